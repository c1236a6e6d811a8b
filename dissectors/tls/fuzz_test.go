package tls

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// FuzzTLS cuts client and server byte streams at arbitrary points, with
// gaps, and checks that segmentation never changes the records.
func FuzzTLS(f *testing.F) {
	ch := realClientHello(f, "example.com", []string{"h2"})
	sh := buildServerHello(0x0304, 0x1301, "h2", false)
	hrr := buildServerHello(0x0304, 0x1301, "", true)
	f.Add(ch, sh, []byte{0x10, 0x90})
	f.Add(append(ch, ch...), append(hrr, sh...), []byte{0x03, 0x83, 0x20})
	f.Add(ch, record(21, []byte{2, 40}), []byte{0x7f})
	f.Add(record(23, []byte{1, 2, 3}), []byte("HTTP/1.1 200 OK\r\n\r\n"), []byte{0x41, 0xc1})
	v2 := buildV2ClientHello(0x0301, compatSpecs, 0, 16)
	f.Add(v2, sh, []byte{0x05, 0x85, 0x3f})
	f.Add(buildV2ClientHello(0x0002, []int{0x010080}, 16, 16), append(buildV2ServerHello([]int{0x010080}), 0x80, 3, 0, 0, 1), []byte{0x02, 0x82})
	f.Fuzz(func(t *testing.T, client, server, chunks []byte) {
		New().Probe(0, client)
		New().Probe(1, server)
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
		bytewise := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
		ts := sdktest.Schedule(client, server, chunks, func(dir sdk.Direction, data []byte, lost bool, ts int64) {
			if lost {
				dr.Gap(dir, len(data), ts)
				bytewise.Gap(dir, len(data), ts)
				return
			}
			dr.Feed(dir, data, ts)
			for _, c := range data {
				bytewise.Feed(dir, []byte{c}, ts)
			}
		})
		dr.Close(ts)
		bytewise.Close(ts)
		for _, m := range []string{dr.Misbehaved, bytewise.Misbehaved} {
			if m != "" {
				t.Fatal(m)
			}
		}
		if !reflect.DeepEqual(dr.Records, bytewise.Records) {
			t.Fatalf("records depend on segmentation:\n%+v\n%+v", dr.Records, bytewise.Records)
		}
		for _, r := range dr.Records {
			if r.Protocol != "tls" || r.Method != "ClientHello" {
				t.Fatalf("record %s %s", r.Protocol, r.Method)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
