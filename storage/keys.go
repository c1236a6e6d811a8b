package storage

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Key layout. Every key starts with a one-byte prefix naming its family; ids
// inside keys are the raw 16 bytes (8 bytes big-endian Unix nanoseconds, then
// 8 bytes of uniqueness), so within a family keys sort by record time.
//
//	'r' id                          -> record without bodies (codec.go)
//	'b' id                          -> request and response bodies; absent
//	                                   when the record has no body
//	'x' kind uvarint(len) value id  -> empty; one secondary index entry
//	'm' name                        -> small caller metadata (PutMeta)
//	'V'                             -> on-disk format version
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
// Index kinds and their values:
//
//	'p' protocol, lower-cased
//	's' status, 8 bytes big-endian (two's complement)
//	'f' failed (only failed records get an entry; the value is empty)
//	'S' src ip, canonical text form
//	'D' dst ip, canonical text form
//	'P' dst ip:port, canonical ip text form then 2 bytes big-endian port
//
// The length before an index value keeps one value from being a prefix of
// another (protocol "http" vs "http2"), and putting the id last means a
// prefix scan of one value yields its records in time order, so an index
// scan can seek to a time bound or a cursor the same way a primary scan
// does. The primary key is the only one a reader trusts: Put writes it last
// and retention deletes it last, so a record is never visible half-written.
const (
	prefixRecord  = 'r'
	prefixBody    = 'b'
	prefixIndex   = 'x'
	prefixMeta    = 'm'
	prefixVersion = 'V'
)

// Index kinds.
const (
	idxProtocol = 'p'
	idxStatus   = 's'
	idxFailed   = 'f'
	idxSrcIP    = 'S'
	idxDstIP    = 'D'
	idxDstPort  = 'P'
)

func recordKey(id rawID) []byte { return append([]byte{prefixRecord}, id[:]...) }

func bodyKey(id rawID) []byte { return append([]byte{prefixBody}, id[:]...) }

func metaKey(name string) []byte { return append([]byte{prefixMeta}, name...) }

// indexPrefix is the key prefix shared by all index entries of one value.
func indexPrefix(kind byte, value []byte) []byte {
	b := make([]byte, 0, 2+binary.MaxVarintLen32+len(value)+idLen)
	b = append(b, prefixIndex, kind)
	b = binary.AppendUvarint(b, uint64(len(value)))
	return append(b, value...)
}

func indexKey(kind byte, value []byte, id rawID) []byte {
	return append(indexPrefix(kind, value), id[:]...)
}

func statusValue(status int) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(int64(status)))
}

func protocolValue(p string) []byte { return []byte(strings.ToLower(p)) }

// canonIP returns the canonical text of an ip so that the index and the
// filter agree whatever spelling the capture used; non-ip text is kept as is.
func canonIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return a.String()
}

func ipPortValue(ip string, port uint16) []byte {
	return binary.BigEndian.AppendUint16([]byte(ip), port)
}

// indexKeys lists every index key of rec, in a fixed order. The keys share
// one backing array (one allocation per record instead of one per key and
// value: Put calls this for every record it stores); each key is a full
// slice of its own bytes, so appending to one cannot overwrite another.
func indexKeys(rec *sdk.Record, id rawID) [][]byte {
	src, dst := "", ""
	if rec.Src.IP != "" {
		src = canonIP(rec.Src.IP)
	}
	if rec.Dst.IP != "" {
		dst = canonIP(rec.Dst.IP)
	}
	// Per key: prefix and kind, a uvarint length, the value, the id.
	const over = 2 + binary.MaxVarintLen32 + idLen
	size := 5*over + len(rec.Protocol) + 8 + len(src) + 2*len(dst) + 2
	buf := make([]byte, 0, size)
	keys := make([][]byte, 0, 6)
	add := func(kind byte, value ...string) {
		n := 0
		for _, v := range value {
			n += len(v)
		}
		start := len(buf)
		buf = append(buf, prefixIndex, kind)
		buf = binary.AppendUvarint(buf, uint64(n))
		for _, v := range value {
			buf = append(buf, v...)
		}
		buf = append(buf, id[:]...)
		keys = append(keys, buf[start:len(buf):len(buf)])
	}
	add(idxProtocol, lowerASCII(rec.Protocol))
	add(idxStatus, string(statusValue(rec.Status)))
	if rec.Failed {
		add(idxFailed)
	}
	if src != "" {
		add(idxSrcIP, src)
	}
	if dst != "" {
		add(idxDstIP, dst)
		var port [2]byte
		binary.BigEndian.PutUint16(port[:], rec.Dst.Port)
		add(idxDstPort, dst, string(port[:]))
	}
	return keys
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

// indexValueOf parses the kind and value of an index key.
func indexValueOf(k []byte) (kind byte, value []byte, ok bool) {
	if len(k) < 2+1+idLen || k[0] != prefixIndex {
		return 0, nil, false
	}
	n, w := binary.Uvarint(k[2:])
	if w <= 0 || uint64(len(k)-2-w-idLen) != n {
		return 0, nil, false
	}
	return k[1], k[2+w : 2+w+int(n)], true
}
