// Command wasm builds the WebSocket dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o websocket.wasm ./dissectors/websocket/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/websocket"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(websocket.New()) }

func main() {}
