package dns

import (
	"encoding/json"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
	"golang.org/x/net/dns/dnsmessage"
)

// FuzzDNS feeds arbitrary bytes as datagrams and as TCP streams cut at
// arbitrary points, with gaps.
func FuzzDNS(f *testing.F) {
	q := buildQuery(f, 1, "example.com.", dnsmessage.TypeA)
	r := buildResponse(f, 1, "example.com.", dnsmessage.TypeA, 0, "192.0.2.1", "2001:db8::1")
	f.Add(q, r, []byte{0x10, 0x90}, false)
	f.Add(q, r, []byte{0x01}, true)
	f.Add(tcpFrame(q), append(tcpFrame(r), tcpFrame(r)...), []byte{0x05, 0x85, 0x45}, false)
	f.Add([]byte{0xff, 0xff, 0, 1}, []byte{0, 12, 0, 0, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0xc0, 0x0c}, []byte{0x3f}, false)
	f.Fuzz(func(t *testing.T, client, server, chunks []byte, udp bool) {
		// under(t) has the C module follow every call when it is built:
		// the seeds and whatever the fuzzer finds are also inputs of the
		// differential test, probes (of whole inputs and prefixes) too.
		d := under(t)
		for _, p := range [][]byte{client, server, client[:len(client)/2], server[:len(server)/3]} {
			d.Probe(0, p)
		}
		dr := sdktest.Open(d, sdk.ConnInfo{ID: 1, Oriented: true, UDP: udp})
		ts := sdktest.Schedule(client, server, chunks, func(dir sdk.Direction, data []byte, lost bool, ts int64) {
			if lost {
				dr.Gap(dir, len(data), ts)
			} else {
				dr.Feed(dir, data, ts)
			}
		})
		dr.Close(ts)
		if dr.Misbehaved != "" {
			t.Fatal(dr.Misbehaved)
		}
		for _, r := range dr.Records {
			if r.Protocol != "dns" {
				t.Fatalf("protocol %q", r.Protocol)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
