// Command wasm builds the TLS dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o tls.wasm ./dissectors/tls/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/tls"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(tls.New()) }

func main() {}
