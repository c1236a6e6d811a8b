package pipeline

import (
	"encoding/binary"
	"hash/fnv"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// recordKey is part of every stored record's id, so it must stay the FNV-1a
// of hash/fnv it always was: importing a capture again must find the same
// ids.
func TestRecordKeyIsFNV(t *testing.T) {
	end := time.Unix(1700000000, 123456789)
	for _, tc := range []struct {
		stream string
		n      uint64
		r      *sdk.Record
	}{
		{"ad8de9024b54a746", 1, &sdk.Record{Protocol: "http", End: end, Response: &sdk.Message{}}},
		{"", 0, &sdk.Record{}},
		{"p-1f", 1 << 40, &sdk.Record{Protocol: "dns", End: end}},
	} {
		h := fnv.New64a()
		var b [8]byte
		h.Write([]byte(tc.stream))
		binary.BigEndian.PutUint64(b[:], tc.n)
		h.Write(b[:])
		h.Write([]byte(tc.r.Protocol))
		e := int64(-1)
		if tc.r.Response != nil {
			e = tc.r.End.UnixNano()
		}
		binary.BigEndian.PutUint64(b[:], uint64(e))
		h.Write(b[:])
		if got, want := recordKey(tc.stream, tc.n, tc.r), h.Sum64(); got != want {
			t.Errorf("recordKey(%q, %d, %s) = %x, hash/fnv gives %x", tc.stream, tc.n, tc.r.Protocol, got, want)
		}
	}
}
