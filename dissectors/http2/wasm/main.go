// Command wasm builds the HTTP/2 and gRPC dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o http2.wasm ./dissectors/http2/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/http2"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(http2.New()) }

func main() {}
