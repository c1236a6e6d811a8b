package sdk

import (
	"slices"
)

// Direction names the two halves of a connection. DirA is the side that sent
// the first packet the capture saw (the SYN's sender when there was one);
// ConnInfo.Oriented says whether DirA is known to be the client.
type Direction uint8

const (
	// DirA carries bytes sent by the connection's first-seen sender.
	DirA Direction = 0
	// DirB carries bytes sent by the other side.
	DirB Direction = 1
)

// Reverse returns the other direction.
func (d Direction) Reverse() Direction { return d ^ 1 }

// ConnInfo describes a connection when the host opens it in a dissector.
type ConnInfo struct {
	// ID is unique per connection within a host run.
	ID uint64
	// PortA and PortB are the ports of DirA's and DirB's senders.
	PortA, PortB uint16
	// Oriented is true when the capture saw the handshake, so DirA is the
	// client.
	Oriented bool
	// UDP is true for datagram flows: each Feed is one whole datagram.
	UDP bool
}

// Probe is a dissector's opinion of the first bytes of a stream.
type Probe struct {
	// Confidence from 0 (not this protocol) to 100 (certain).
	Confidence uint8
	// FromServer reports that the bytes look like the server's side.
	FromServer bool
	// NeedMore asks to be shown more bytes before deciding.
	NeedMore bool
}

// Emitter receives what a connection produces.
type Emitter interface {
	// Emit hands over one finished record. The emitter does not keep r.
	Emit(r *Record)
	// Switch says the connection stops speaking this dissector's protocol
	// after the bytes consumed so far (an HTTP Upgrade, STARTTLS). The host
	// closes this Conn and detects the protocol of what follows afresh; hint
	// names the expected protocol ("websocket", "http2", "tls") to break ties.
	Switch(hint string)
}

// Copier is an Emitter that is done with a record, and with everything the
// record refers to (messages, headers, strings), when Emit returns. The
// wasm guest's emitter is one: it encodes each record for the host at once.
// A dissector whose emitter copies may reuse a record's memory for its next
// one, which inside WebAssembly saves allocations that each cost more than
// parsing a header line (BENCHMARKS.md). Any other emitter may keep what a
// record refers to.
type Copier interface {
	Emitter
	// CopiesRecords reports that Emit copies.
	CopiesRecords() bool
}

// Copies reports whether e copies what it is given (see Copier).
func Copies(e Emitter) bool {
	c, ok := e.(Copier)
	return ok && c.CopiesRecords()
}

// EmitFunc adapts a function to Emitter; Switch is ignored.
type EmitFunc func(*Record)

// Emit calls f(r).
func (f EmitFunc) Emit(r *Record) { f(r) }

// Switch does nothing.
func (f EmitFunc) Switch(string) {}

// Dissector is a protocol parser as the host sees it.
type Dissector interface {
	// Manifest describes the dissector; it is read once at load time.
	Manifest() Manifest
	// Probe inspects the first bytes a stream carried in one direction. It
	// must be cheap and must not keep data.
	Probe(dir Direction, data []byte) Probe
	// Open starts parsing a connection; records go to out.
	Open(info ConnInfo, out Emitter) Conn
}

// Conn parses one connection. The host never calls a Conn concurrently.
type Conn interface {
	// Feed offers the unconsumed bytes of one direction. first and last are
	// the capture times (Unix nanoseconds) of data[0] and of the newest byte.
	// Feed returns how many bytes it consumed; the host keeps the rest and
	// offers them again with more appended, so a dissector that returns after
	// each complete message gets an exact first time for the next one. need
	// is a hint: the total number of bytes Feed wants before it can make
	// progress (0 when unknown). A negative consumed tells the host this
	// connection is not parseable and to stop feeding it.
	Feed(dir Direction, data []byte, first, last int64) (consumed, need int)
	// Gap reports that n bytes of one direction were lost; the parser must
	// resynchronise rather than misread what follows.
	Gap(dir Direction, n int, ts int64)
	// Close ends the connection; the parser emits what it still holds (a
	// request that never saw its response, for example).
	Close(ts int64)
}

// FieldSpec documents one field a dissector's records carry, for filters and
// the MCP filter reference.
type FieldSpec struct {
	// Name as it appears in filters, e.g. "dns_questions".
	Name string `json:"name"`
	// Type is one of string, int, bool, float, list, map.
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

// Manifest is what a dissector says about itself.
type Manifest struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description,omitempty"`
	Protocols   []string `json:"protocols"`
	// Transports lists "tcp" and/or "udp".
	Transports []string `json:"transports"`
	// PortHints are ports the protocol commonly uses. They only break ties
	// between probes; detection is by content.
	PortHints []uint16    `json:"port_hints,omitempty"`
	Fields    []FieldSpec `json:"fields,omitempty"`
}

// HasTransport reports whether the manifest lists transport t.
func (m Manifest) HasTransport(t string) bool { return slices.Contains(m.Transports, t) }
