package storage

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Key layout. Every key starts with a one-byte prefix naming its family; ids
// inside keys are the raw 16 bytes (8 bytes big-endian Unix nanoseconds, then
// 8 bytes of uniqueness), so within a family keys sort by record time.
//
//	'r' id                          -> the record: its summary, then its
//	                                   bodies (codec.go, storedTag)
//	'i' id                          -> the record's index entry: what the
//	                                   equality filters test (below)
//	'm' name                        -> small caller metadata (PutMeta)
//	'V'                             -> on-disk format version (migrate.go)
//	'l' ..., 'L' ...                -> flows (flows.go)
//	'e' minute                      -> the minute's epoch, 8 bytes big-endian
//	'E' 'c'                         -> the epoch clock: the last epoch handed out
//	'E' 'w' minute                  -> empty; a write to the minute is in flight
//	'a' minute name                 -> uvarint(epoch) then a value derived from
//	                                   the minute's records (PutDerived)
//	'k' key                         -> caller-owned data kept with the records
//	                                   (PutAux: the workload history, resolve.go)
//
// minute is a Unix minute (MinuteOf) as 8 bytes big-endian, so a minute's
// derived values sit together and retention drops a range of minutes with
// one seek. Epochs are explained in epochs.go.
//
// The index entry is one small value per record (a few dozen bytes, kept
// in the LSM tables beside its key, not in the value log):
//
//	flags                           1 byte: failed, has src, has dst
//	uvarint(len) protocol           lower-cased
//	varint status
//	addr src                        when has src
//	addr dst, dst port              when has dst; port 2 bytes big-endian
//
// An addr is 4 then the 4 bytes of an IPv4 address, 16 then the 16 bytes
// of an IPv6 one (IPv4-mapped ones included, as their text differs), or 0,
// uvarint(len) and the text for anything else (a zoned address, a name):
// an entry stays under ~60 bytes whatever the addresses, so it is always
// kept in the tables (the value threshold in store.go).
//
// A query with equality terms on these fields walks the index entries of
// its time range in time order, tests every term on each, and reads only
// the records that pass. One entry per record instead of one key per
// indexed field (format version 1 wrote six) is what makes a Put cheap:
// badger's write path costs per key, not per byte (RATIONALE.md). The
// primary key is the only one a reader trusts: Put writes it last and
// retention deletes it last, so a record is never visible half-written.
const (
	prefixRecord  = 'r'
	prefixIndex   = 'i'
	prefixMeta    = 'm'
	prefixVersion = 'V'
)

// Flags of an index entry.
const (
	idxFailed = 1 << iota
	idxHasSrc
	idxHasDst
)

func recordKey(id rawID) []byte { return append([]byte{prefixRecord}, id[:]...) }

func metaKey(name string) []byte { return append([]byte{prefixMeta}, name...) }

func indexKey(id rawID) []byte { return append([]byte{prefixIndex}, id[:]...) }

// canonIP returns the canonical text of an ip so that the index and the
// filter agree whatever spelling the capture used; non-ip text is kept as is.
func canonIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return a.String()
}

// appendIndexValue appends rec's index entry (layout above) to b.
func appendIndexValue(b []byte, rec *sdk.Record) []byte {
	var flags byte
	if rec.Failed {
		flags |= idxFailed
	}
	if rec.Src.IP != "" {
		flags |= idxHasSrc
	}
	if rec.Dst.IP != "" {
		flags |= idxHasDst
	}
	b = append(b, flags)
	p := lowerASCII(rec.Protocol)
	b = binary.AppendUvarint(b, uint64(len(p)))
	b = append(b, p...)
	b = binary.AppendVarint(b, int64(rec.Status))
	if rec.Src.IP != "" {
		b = appendAddr(b, rec.Src.IP)
	}
	if rec.Dst.IP != "" {
		b = appendAddr(b, rec.Dst.IP)
		b = binary.BigEndian.AppendUint16(b, rec.Dst.Port)
	}
	return b
}

// appendAddr appends an index entry's form of an address (layout above);
// two spellings of one address get the same bytes.
func appendAddr(b []byte, s string) []byte {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil || a.Zone() != "":
		s = canonIP(s)
		b = append(b, 0)
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	case a.Is4():
		v := a.As4()
		return append(append(b, 4), v[:]...)
	}
	v := a.As16()
	return append(append(b, 16), v[:]...)
}

// indexEntry is a decoded index entry; its byte fields point into the
// stored value and are valid only while it is.
type indexEntry struct {
	flags    byte
	protocol []byte
	status   int64
	src, dst []byte // address fields (appendAddr), kind byte included
	dstPort  uint16
}

// errBadIndex reports an index entry that does not parse.
var errBadIndex = errors.New("bad index entry")

// decodeIndexValue parses an index entry.
func decodeIndexValue(v []byte, e *indexEntry) error {
	if len(v) < 1 {
		return errBadIndex
	}
	e.flags, v = v[0], v[1:]
	str := func() ([]byte, bool) {
		n, k := binary.Uvarint(v)
		if k <= 0 || n > uint64(len(v)-k) {
			return nil, false
		}
		s := v[k : k+int(n)]
		v = v[k+int(n):]
		return s, true
	}
	var ok bool
	if e.protocol, ok = str(); !ok {
		return errBadIndex
	}
	var k int
	if e.status, k = binary.Varint(v); k <= 0 {
		return errBadIndex
	}
	v = v[k:]
	// addr returns an address field whole, its kind byte included.
	addr := func() ([]byte, bool) {
		if len(v) < 1 {
			return nil, false
		}
		n := 0
		switch v[0] {
		case 4, 16:
			n = 1 + int(v[0])
		case 0:
			l, k := binary.Uvarint(v[1:])
			if k <= 0 || l > uint64(len(v)-1-k) {
				return nil, false
			}
			n = 1 + k + int(l)
		default:
			return nil, false
		}
		if n > len(v) {
			return nil, false
		}
		a := v[:n]
		v = v[n:]
		return a, true
	}
	e.src, e.dst, e.dstPort = nil, nil, 0
	if e.flags&idxHasSrc != 0 {
		if e.src, ok = addr(); !ok {
			return errBadIndex
		}
	}
	if e.flags&idxHasDst != 0 {
		if e.dst, ok = addr(); !ok || len(v) < 2 {
			return errBadIndex
		}
		e.dstPort, v = binary.BigEndian.Uint16(v), v[2:]
	}
	if len(v) != 0 {
		return errBadIndex
	}
	return nil
}

// lowerASCII is strings.ToLower without an allocation for the usual
// already-lower-case protocol names.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

// idFromKey takes the id from the tail of a record, body or index key.
func idFromKey(k []byte) (rawID, bool) {
	var id rawID
	if len(k) < idLen+1 {
		return id, false
	}
	copy(id[:], k[len(k)-idLen:])
	return id, true
}
