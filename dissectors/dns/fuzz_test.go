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
	// Started before fuzzing: a fuzzer counts an input's first run, which
	// would otherwise compile the module, against its time.
	under(f)
	f.Fuzz(func(t *testing.T, client, server, chunks []byte, udp bool) {
		// The built-in module through the host; probes of whole inputs and
		// of prefixes too.
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
		// Each side alone, and the two as one exchange where the module
		// pairs them, are rendered by RecordFromMessages (the HTTP/2
		// dissector's DNS over HTTPS) as by the module.
		for _, msg := range [][]byte{client, server} {
			if len(msg) < 12 {
				continue
			}
			q, r := msg, []byte(nil)
			if msg[2]&0x80 != 0 {
				q, r = nil, msg
			}
			if diff := sameAsModule(t, q, r); diff != "" {
				t.Fatalf("% x: %s", msg, diff)
			}
		}
		if recs := moduleRecords(t, client, server); len(recs) == 1 && recs[0].Request != nil && recs[0].Response != nil {
			if diff := sameAsModule(t, client, server); diff != "" {
				t.Fatal(diff)
			}
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
