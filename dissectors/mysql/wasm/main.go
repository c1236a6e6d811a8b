// Command wasm builds the MySQL dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mysql.wasm ./dissectors/mysql/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/mysql"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(mysql.New()) }

func main() {}
