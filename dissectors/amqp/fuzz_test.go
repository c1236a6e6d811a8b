package amqp

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

func FuzzAMQP(f *testing.F) {
	client := append(append(append([]byte(nil), protocolHeader...), startOk()...), publish(1, "ex", "rk", "hello world")...)
	client = append(client, queueDeclare(1, "q", false)...)
	server := append(append(start(), queueDeclareOk(1, "q")...), channelClose(1, 404, "NOT_FOUND")...)
	f.Add(client, server, []byte{0x10, 0x90, 0x05, 0x85}, true)
	f.Add(client, server, []byte{0x41, 0xc1}, false)
	f.Fuzz(func(t *testing.T, client, server, chunks []byte, oriented bool) {
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: oriented})
		bytewise := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: oriented})
		New().Probe(sdk.DirA, client)
		New().Probe(sdk.DirB, server)
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
		if !reflect.DeepEqual(briefs(dr.Records), briefs(bytewise.Records)) {
			t.Fatalf("records depend on segmentation:\n whole    %+v\n bytewise %+v", briefs(dr.Records), briefs(bytewise.Records))
		}
		for _, r := range dr.Records {
			if r.Protocol != "amqp" {
				t.Fatalf("protocol %q", r.Protocol)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
