package storage

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// idLen is the raw size of an id: 8 bytes of big-endian Unix nanoseconds and
// 8 bytes of uniqueness.
const idLen = 16

// idTextLen is the rendered size: 128 bits in 5-bit Crockford digits.
const idTextLen = 26

// crockford is Crockford's base32 alphabet. Its digits are in ASCII order, so
// the lexical order of rendered ids is the numeric order of the raw ones.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// crockfordDec maps a character to its digit value, 0xFF for invalid ones.
// It is a constant table built once; nothing writes it afterwards.
var crockfordDec = func() [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < len(crockford); i++ {
		t[crockford[i]] = byte(i)
		if c := crockford[i]; c >= 'A' && c <= 'Z' {
			t[c+'a'-'A'] = byte(i)
		}
	}
	// Crockford's aliases for easily confused characters.
	for _, c := range "oO" {
		t[c] = 0
	}
	for _, c := range "iIlL" {
		t[c] = 1
	}
	return t
}()

// rawID is the binary form of an id, the one used inside keys.
type rawID [idLen]byte

// idNanos maps a time to the id's time field. Times before the epoch
// (including the zero time) clamp to 0 and times past 2262 to the maximum,
// because the field is unsigned and must keep sorting by time.
func idNanos(ts time.Time) uint64 {
	if ts.IsZero() || ts.Before(time.Unix(0, 0)) {
		return 0
	}
	if ts.After(time.Unix(0, math.MaxInt64)) {
		return math.MaxInt64
	}
	return uint64(ts.UnixNano())
}

func makeRawID(ts time.Time, seq uint64) rawID {
	var id rawID
	binary.BigEndian.PutUint64(id[:8], idNanos(ts))
	binary.BigEndian.PutUint64(id[8:], seq)
	return id
}

// nanos returns the time field.
func (id rawID) nanos() uint64 { return binary.BigEndian.Uint64(id[:8]) }

// String renders the id in Crockford base32, 26 characters, most significant
// bits first (the top two bits of the first character are always zero).
func (id rawID) String() string {
	hi := binary.BigEndian.Uint64(id[:8])
	lo := binary.BigEndian.Uint64(id[8:])
	var out [idTextLen]byte
	for i := idTextLen - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// parseID is the inverse of rawID.String.
func parseID(s string) (rawID, error) {
	var id rawID
	if len(s) != idTextLen {
		return id, fmt.Errorf("%w: %q: want %d characters, got %d", ErrBadID, s, idTextLen, len(s))
	}
	var hi, lo uint64
	for i := 0; i < idTextLen; i++ {
		d := crockfordDec[s[i]]
		if d == 0xFF {
			return id, fmt.Errorf("%w: %q: invalid character %q", ErrBadID, s, s[i])
		}
		if i == 0 && d > 7 {
			return id, fmt.Errorf("%w: %q: overflows 128 bits", ErrBadID, s)
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(d)
	}
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id, nil
}

// NewID renders the id for a record at ts with uniqueness bits seq. Ids sort
// as strings in time order; records with the same timestamp sort by seq. A
// Store fills seq from a random per-store 32-bit prefix and a 32-bit counter,
// so ids from concurrent stores (or imports) do not collide.
func NewID(ts time.Time, seq uint64) string { return makeRawID(ts, seq).String() }

// idGen hands out the uniqueness half of ids for one Store.
type idGen struct {
	prefix uint64 // random, in the high 32 bits
	next   atomic.Uint32
}

func newIDGen() (*idGen, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("storage: id prefix: %w", err)
	}
	return &idGen{prefix: uint64(binary.BigEndian.Uint32(b[:])) << 32}, nil
}

func (g *idGen) newRaw(ts time.Time) rawID {
	return makeRawID(ts, g.prefix|uint64(g.next.Add(1)))
}
