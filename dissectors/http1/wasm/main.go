// Command wasm builds the HTTP/1.x dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o http.wasm ./dissectors/http1/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/http1"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(http1.New()) }

func main() {}
