package mysql

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// FuzzMySQL drives a connection with arbitrary bytes, segmentation and
// gaps: no panics, no out-of-range consumption, and the records must not
// depend on how the streams were cut.
func FuzzMySQL(f *testing.F) {
	caps := uint32(baseCaps | capDeprecateEOF)
	client := cat(responsePkt(caps, "u", "db"), query("SELECT 1"), pkt(0, []byte{comStmtPrepare}, []byte("SELECT ?")), pkt(0, []byte{comStmtExecute}, le(1, 4), []byte{0}, le(1, 4)), pkt(0, []byte{comQuit}))
	server := cat(greetingPkt(caps), okPkt(2, 0, 0), pkt(1, []byte{1}), colDef(2, "a"), rowPkt(3, "1"), pkt(4, []byte{0xfe, 0, 0, 2, 0, 0, 0}),
		pkt(1, []byte{0}, le(1, 4), le(0, 2), le(1, 2), []byte{0, 0, 0}), colDef(2, "?"), okPkt(1, 1, 0))
	f.Add(client, server, []byte{0x10, 0x90, 0x05, 0x85})
	f.Add(cat(responsePkt(baseCaps|capCompress, "u", ""), compress(0, query("SELECT 1"), false)), cat(greetingPkt(baseCaps|capCompress), okPkt(2, 0, 0), compress(1, okPkt(1, 0, 0), true)), []byte{0x81, 0x3f, 0xbf, 0x3f})
	f.Add(compress(0, query("SELECT 2"), false), compress(1, okPkt(1, 0, 0), true), []byte{0x03, 0x81, 0x7f})
	f.Add(query("LOAD DATA LOCAL INFILE 'x' INTO TABLE t"), cat(pkt(1, []byte{0xfb}, []byte("x")), okPkt(3, 1, 0)), []byte{0x41, 0xc1, 0x02})
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
			if r.Protocol != "mysql" || len(r.Path) > maxSQL+3 {
				t.Fatalf("record %+v", r)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}
