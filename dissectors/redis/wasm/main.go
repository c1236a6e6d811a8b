// Command wasm builds the Redis dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o redis.wasm ./dissectors/redis/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/redis"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(redis.New()) }

func main() {}
