// Command wasm builds the MongoDB dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mongodb.wasm ./dissectors/mongodb/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/mongodb"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(mongodb.New()) }

func main() {}
