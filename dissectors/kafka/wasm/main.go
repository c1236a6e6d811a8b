// Command wasm builds the Kafka dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o kafka.wasm ./dissectors/kafka/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/kafka"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(kafka.New()) }

func main() {}
