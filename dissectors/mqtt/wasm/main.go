// Command wasm builds the MQTT dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mqtt.wasm ./dissectors/mqtt/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/mqtt"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(mqtt.New()) }

func main() {}
