// Command oom is a hostile Go dissector for the sandbox tests: every feed
// allocates without bound until the instance's memory cap stops it.
package main

import "github.com/kubeshark-wasm/kubeshark/sdk"

type d struct{}

func (d) Manifest() sdk.Manifest {
	return sdk.Manifest{Name: "oom", Version: "0.0.1", Protocols: []string{"oom"}, Transports: []string{"tcp"}}
}
func (d) Probe(sdk.Direction, []byte) sdk.Probe   { return sdk.Probe{Confidence: 100} }
func (d) Open(sdk.ConnInfo, sdk.Emitter) sdk.Conn { return &c{} }

type c struct{ keep [][]byte }

func (x *c) Feed(_ sdk.Direction, data []byte, _, _ int64) (int, int) {
	for {
		x.keep = append(x.keep, make([]byte, 1<<20))
	}
}
func (x *c) Gap(sdk.Direction, int, int64) {}
func (x *c) Close(int64)                   {}

func init() { sdk.Register(d{}) }

func main() {}
