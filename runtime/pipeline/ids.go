package pipeline

import (
	"encoding/binary"
	"hash/fnv"
	"strconv"

	"github.com/kubeshark-wasm/kubeshark/runtime/reassembly"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// streamID names a connection by what it is (transport, endpoints and the
// time its first packet was seen) rather than by the order this run saw it
// in, so the same capture always yields the same stream ids.
func streamID(c *reassembly.Conn) string {
	return strconv.FormatUint(connHash(c, ""), 16)
}

// connHash hashes what a connection is, after salt (empty for packet
// streams, so their ids are what they always were).
func connHash(c *reassembly.Conn, salt string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	h.Write([]byte(salt))
	h.Write([]byte{byte(c.Transport)})
	a, z := c.A.String(), c.B.String()
	if a > z {
		a, z = z, a
	}
	h.Write([]byte(a))
	h.Write([]byte{0})
	h.Write([]byte(z))
	binary.BigEndian.PutUint64(b[:], uint64(c.FirstSeen.UnixNano()))
	h.Write(b[:])
	return h.Sum64()
}

// recordKey is the part of a record's id that tells it apart from other
// records at the same instant: its stream, its position in the stream and
// when its response ended. The last makes a record cut short (a truncated
// copy of a capture imported again) a different record, never a
// replacement for the complete one already stored.
func recordKey(stream string, n uint64, r *sdk.Record) uint64 {
	// FNV-1a as hash/fnv computes it, inline: the hasher and the byte
	// slices cost allocations per record (the ids must stay what they were,
	// and TestRecordKeyIsFNV holds them to it).
	h := fnvString(fnvOffset64, stream)
	h = fnvUint64(h, n)
	h = fnvString(h, r.Protocol)
	end := int64(-1)
	if r.Response != nil {
		end = r.End.UnixNano()
	}
	return fnvUint64(h, uint64(end))
}

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// fnvUint64 hashes v's eight bytes, big-endian.
func fnvUint64(h, v uint64) uint64 {
	for i := 56; i >= 0; i -= 8 {
		h ^= v >> i & 0xff
		h *= fnvPrime64
	}
	return h
}
