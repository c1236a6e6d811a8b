// Command wasm builds the PostgreSQL dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o postgres.wasm ./dissectors/postgres/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/postgres"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(postgres.New()) }

func main() {}
