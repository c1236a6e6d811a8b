// Command wasm builds the DNS dissector as a WebAssembly module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o dns.wasm ./dissectors/dns/wasm
package main

import (
	"github.com/kubeshark-wasm/kubeshark/dissectors/dns"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func init() { sdk.Register(dns.New()) }

func main() {}
