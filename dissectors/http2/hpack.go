package http2

import (
	"errors"

	"golang.org/x/net/http2/hpack"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// unknownName stands in the dynamic table for an entry whose name came from
// an entry the capture never saw, so that later indexes stay aligned.
const unknownName = "<unknown>"

// headerDecoder is the HPACK state of one direction. A capture that starts
// mid-connection (or loses bytes) misses dynamic-table insertions, so a
// reference can point at nothing we know; the x/net decoder stops a block at
// the first such error. To keep everything else in the block, fields are
// handed to it one representation at a time and an unknown reference costs
// only its own field.
type headerDecoder struct {
	dec     *hpack.Decoder
	fields  []sdk.Header
	dropped int // fields beyond maxHeaders
	// allowed is the largest table the peer's SETTINGS permit; zero until
	// one is seen.
	allowed uint32
}

func newHeaderDecoder(tableSize uint32) *headerDecoder {
	d := &headerDecoder{}
	d.reset(tableSize)
	return d
}

// reset starts an empty table. After a loss a table's contents are unknown,
// and an empty one turns references to lost entries into errors instead of
// silently wrong headers (indexes count from the newest entry, so entries
// inserted after the reset still resolve correctly).
func (d *headerDecoder) reset(tableSize uint32) {
	d.dec = hpack.NewDecoder(tableSize, d.emit)
	d.dec.SetMaxStringLength(maxHeaderBlock)
	d.setAllowed(d.allowed)
}

// setAllowed applies a SETTINGS_HEADER_TABLE_SIZE from the decoding side.
// Tables up to lenientTable are accepted whatever was announced: the SETTINGS
// may predate the capture, and accepting more than the peer allowed costs
// only memory, which the cap bounds.
func (d *headerDecoder) setAllowed(v uint32) {
	d.allowed = v
	d.dec.SetAllowedMaxDynamicTableSize(min(max(v, lenientTable), maxTable))
}

func (d *headerDecoder) emit(f hpack.HeaderField) {
	if len(d.fields) >= maxHeaders {
		d.dropped++
		return
	}
	d.fields = append(d.fields, sdk.Header{Name: f.Name, Value: f.Value})
}

// decode turns one complete header block into fields. unknown counts the
// fields that referred to table entries the capture did not see; err is set
// when the block itself is broken (then the rest of it is lost).
func (d *headerDecoder) decode(block []byte) (fields []sdk.Header, unknown int, err error) {
	// Room for a typical block's fields up front: growing from nil costs a
	// guest an allocation per doubling.
	d.fields, d.dropped = make([]sdk.Header, 0, 8), 0
	for len(block) > 0 {
		n, ok := reprLen(block)
		if !ok {
			err = errors.New("truncated or malformed HPACK block")
			break
		}
		before := len(d.fields)
		if _, werr := d.dec.Write(block[:n]); werr != nil {
			var idx hpack.InvalidIndexError
			var de hpack.DecodingError
			if errors.As(werr, &de) && errors.As(de.Err, &idx) || errors.As(werr, &idx) {
				unknown++
				d.fields = d.fields[:before]
				d.placeholder(block[:n])
			} else {
				err = werr
				break
			}
		}
		for _, f := range d.fields[before:] {
			if f.Name == unknownName {
				unknown++
			}
		}
		block = block[n:]
	}
	if cerr := d.dec.Close(); cerr != nil && err == nil {
		err = cerr
	}
	// Placeholders are dropped in place: the slice is the caller's from
	// here on, as d.fields starts afresh with the next block.
	out := d.fields[:0]
	for _, f := range d.fields {
		if f.Name != unknownName {
			out = append(out, f)
		}
	}
	d.fields = nil
	if d.dropped > 0 && err == nil {
		err = errors.New("too many header fields")
	}
	return out, unknown, err
}

// placeholder keeps the table aligned when a literal with incremental
// indexing named an unknown entry: the peer inserted an entry, so we insert
// one too, with the value it carried and a name that marks it unknown.
func (d *headerDecoder) placeholder(repr []byte) {
	if repr[0]&0xc0 != 0x40 {
		return
	}
	_, rest, ok := readVarInt(6, repr)
	if !ok {
		return
	}
	val, _, ok := readString(rest)
	if !ok {
		return
	}
	lit := []byte{0x40}
	lit = appendString(lit, unknownName)
	lit = appendString(lit, val)
	saved := d.fields
	d.dec.Write(lit)
	d.fields = saved
}

func appendString(b []byte, s string) []byte {
	b = appendVarInt(b, 7, 0, uint64(len(s)))
	return append(b, s...)
}

func appendVarInt(b []byte, n uint8, first byte, v uint64) []byte {
	limit := uint64(1)<<n - 1
	if v < limit {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(limit))
	v -= limit
	for v >= 128 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// reprLen returns the length of the HPACK representation at the start of b
// (RFC 7541 §6).
func reprLen(b []byte) (int, bool) {
	var prefix uint8
	withName := false
	switch c := b[0]; {
	case c&0x80 != 0:
		prefix = 7
	case c&0xc0 == 0x40:
		prefix, withName = 6, true
	case c&0xe0 == 0x20:
		prefix = 5
	default:
		prefix, withName = 4, true
	}
	idx, rest, ok := readVarInt(prefix, b)
	if !ok {
		return 0, false
	}
	if withName {
		if idx == 0 {
			if rest, ok = skipString(rest); !ok {
				return 0, false
			}
		}
		if rest, ok = skipString(rest); !ok {
			return 0, false
		}
	}
	return len(b) - len(rest), true
}

func readVarInt(n uint8, b []byte) (uint64, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	v := uint64(b[0] & (1<<n - 1))
	if v < 1<<n-1 {
		return v, b[1:], true
	}
	var m uint
	for i := 1; i < len(b) && i < 10; i++ {
		c := b[i]
		v += uint64(c&0x7f) << m
		if c&0x80 == 0 {
			return v, b[i+1:], true
		}
		m += 7
	}
	return 0, nil, false
}

func skipString(b []byte) ([]byte, bool) {
	l, rest, ok := readVarInt(7, b)
	if !ok || l > uint64(len(rest)) {
		return nil, false
	}
	return rest[l:], true
}

func readString(b []byte) (string, []byte, bool) {
	huff := len(b) > 0 && b[0]&0x80 != 0
	l, rest, ok := readVarInt(7, b)
	if !ok || l > uint64(len(rest)) {
		return "", nil, false
	}
	raw := rest[:l]
	if !huff {
		return string(raw), rest[l:], true
	}
	s, err := hpack.HuffmanDecodeToString(raw)
	if err != nil {
		return "", nil, false
	}
	return s, rest[l:], true
}
