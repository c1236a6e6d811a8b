package postgres

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// FuzzPostgres drives a connection with arbitrary bytes, segmentation and
// gaps: no panics, no out-of-range consumption, and the records must not
// depend on how the streams were cut.
func FuzzPostgres(f *testing.F) {
	client := cat(startup("user", "a", "database", "b"), msg('Q', cs("SELECT 1")), parse("s", "SELECT $1"), bindMsg("", "s", "x"), execute(""), msg('S'), msg('X'))
	server := cat(loginOK(), rowDesc("a"), dataRow("1"), msg('C', cs("SELECT 1")), msg('Z', []byte("I")), msg('1'), msg('2'), dataRow("x"), msg('C', cs("SELECT 1")), msg('Z', []byte("I")))
	f.Add(client, server, []byte{0x10, 0x90, 0x05, 0x85})
	f.Add(cat(sslRequest(), startup("user", "u")), cat([]byte("N"), errResp("28000", "no")), []byte{0x03, 0x81, 0x7f})
	f.Add(sslRequest(), []byte("S\x16\x03\x01"), []byte{0x08, 0x81})
	f.Add(msg('Q', cs("COPY t FROM STDIN")), cat(msg('G', []byte{0}, u16(0)), msg('C', cs("COPY 1")), msg('Z', []byte("I"))), []byte{0x41, 0xc1, 0x02})
	f.Fuzz(func(t *testing.T, client, server, chunks []byte) {
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
		if !reflect.DeepEqual(dr.Records, bytewise.Records) || dr.Switched() != bytewise.Switched() {
			t.Fatalf("records depend on segmentation:\n whole    %+v\n bytewise %+v", dr.Records, bytewise.Records)
		}
		for _, r := range dr.Records {
			if r.Protocol != "postgres" || len(r.Path) > maxSQL {
				t.Fatalf("record %+v", r)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
