package reassembly

import (
	"net/netip"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// CloseReason says why a connection ended.
type CloseReason uint8

const (
	// CloseFIN: both directions sent FIN.
	CloseFIN CloseReason = iota + 1
	// CloseRST: either side sent RST.
	CloseRST
	// CloseIdle: no segment within the idle timeout.
	CloseIdle
	// CloseEvicted: MaxConns was reached and this was the least recently
	// active connection.
	CloseEvicted
	// CloseFlush: FlushAll was called at the end of input.
	CloseFlush
	// CloseReused: a new SYN arrived on the 5-tuple of a connection that was
	// still open, so the capture must have missed its end.
	CloseReused
)

// String returns a short lower-case name.
func (r CloseReason) String() string {
	switch r {
	case CloseFIN:
		return "fin"
	case CloseRST:
		return "rst"
	case CloseIdle:
		return "idle"
	case CloseEvicted:
		return "evicted"
	case CloseFlush:
		return "flush"
	case CloseReused:
		return "reused"
	}
	return "unknown"
}

// DirStats counts what happened to one direction of a connection.
type DirStats struct {
	// Packets is the number of segments or datagrams sent this way.
	Packets uint64
	// Bytes is the number of bytes delivered with Data.
	Bytes uint64
	// Gaps and GapBytes count Gap calls and the bytes they reported lost.
	Gaps, GapBytes uint64
	// RetransmittedBytes were wholly before the next expected byte.
	RetransmittedBytes uint64
	// OverlapBytes were duplicates trimmed from partly new segments.
	OverlapBytes uint64
	// OutOfOrder counts segments that had to be buffered.
	OutOfOrder uint64
}

// Conn is one tracked connection (TCP) or flow (UDP). The Assembler owns
// every field except State; a Handler may read them during its calls.
type Conn struct {
	// ID is unique within the Assembler, assigned from 1 in order of first
	// sight.
	ID uint64
	// Transport is TCP or UDP.
	Transport packet.Transport
	// A is the sender of sdk.DirA bytes, B of sdk.DirB bytes.
	A, B netip.AddrPort
	// Oriented is true when the handshake was seen, so A is the client.
	Oriented bool
	// FirstSeen and LastSeen are capture times.
	FirstSeen, LastSeen time.Time
	// State belongs to the Handler; the Assembler never touches it.
	State any
	// Dirs holds counters indexed by sdk.Direction.
	Dirs [2]DirStats

	key      connKey
	half     [2]half
	buffered int // out-of-order bytes of both halves
	closed   bool
	lru, buf link
	inBuf    bool
}

func (c *Conn) dirOf(src netip.AddrPort) sdk.Direction {
	if src == c.A {
		return sdk.DirA
	}
	return sdk.DirB
}

// connKey is the unordered 5-tuple: lo sorts before hi so both directions
// map to the same key.
type connKey struct {
	lo, hi    netip.AddrPort
	transport packet.Transport
}

func makeKey(t packet.Transport, x, y netip.AddrPort) connKey {
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	return connKey{lo: x, hi: y, transport: t}
}
