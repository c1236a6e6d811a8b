// Command wasm builds the AMQP 0-9-1 dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o amqp.wasm ./dissectors/amqp/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/amqp"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(amqp.New()) }

func main() {}
