package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// AppendRecord appends r, id and bodies included, in the binary form the
// store keeps records in, for carrying records between processes (the
// cluster fan-out's streams). Unlike JSON it keeps everything a record
// holds: header order and duplicates, End and RequestDir; and it costs a
// few microseconds where JSON costs tens (codec.go).
func AppendRecord(b []byte, r *sdk.Record) []byte {
	return appendValue(appendStr(b, r.ID), r)
}

// DecodeRecord is the inverse of AppendRecord. Its input is checked as
// the store checks its own values: bounds, counts, no trailing bytes.
func DecodeRecord(b []byte) (*sdk.Record, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, errors.New("storage: record: bad id length")
	}
	id := string(b[k : k+int(n)])
	rec, err := decodeValue(b[k+int(n):])
	if err != nil {
		return nil, fmt.Errorf("storage: record %q: %w", id, err)
	}
	rec.ID = id
	return rec, nil
}
