package sdktest

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type liar struct{ consumed, need int }

func (l liar) Manifest() sdk.Manifest                  { return sdk.Manifest{} }
func (l liar) Probe(sdk.Direction, []byte) sdk.Probe   { return sdk.Probe{} }
func (l liar) Open(sdk.ConnInfo, sdk.Emitter) sdk.Conn { return l }
func (l liar) Feed(_ sdk.Direction, d []byte, _, _ int64) (int, int) {
	return len(d) + l.consumed, l.need
}
func (l liar) Gap(sdk.Direction, int, int64) {}
func (l liar) Close(int64)                   {}

func TestDriverReportsFeedContractBreaches(t *testing.T) {
	for _, tc := range []struct {
		name     string
		l        liar
		bad      bool
		rejected bool
	}{
		{"honest", liar{0, 0}, false, false},
		{"consumes more than offered", liar{1, 0}, true, true},
		{"negative need", liar{0, -1}, true, false},
	} {
		dr := Open(tc.l, sdk.ConnInfo{ID: 1})
		dr.Feed(sdk.DirA, []byte("abc"), 1)
		if (dr.Misbehaved != "") != tc.bad || dr.Rejected() != tc.rejected {
			t.Errorf("%s: Misbehaved %q, rejected %v", tc.name, dr.Misbehaved, dr.Rejected())
		}
	}
}

func TestScheduleDeliversEverythingOnce(t *testing.T) {
	client, server := []byte("client bytes here"), []byte("and the server's")
	var got [2][]byte
	lostTotal := 0
	end := Schedule(client, server, []byte{0x02, 0x83, 0x41, 0x00}, func(dir sdk.Direction, data []byte, lost bool, ts int64) {
		if lost {
			lostTotal += len(data)
			data = make([]byte, len(data))
		}
		got[dir] = append(got[dir], data...)
	})
	if len(got[0]) != len(client) || len(got[1]) != len(server) || lostTotal != 2 || end < 3 {
		t.Fatalf("delivered %q / %q, lost %d, end %d", got[0], got[1], lostTotal, end)
	}
}
