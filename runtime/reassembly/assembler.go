package reassembly

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Handler receives the reassembled streams. Calls for one connection come in
// the order Open, then any Data and Gap, then exactly one Close.
type Handler interface {
	// Open announces a new connection before any of its data.
	Open(c *Conn, ts time.Time)
	// Data delivers in-order bytes of one direction. data is valid only
	// during the call; ts is the capture time of the segment that carried
	// data[0].
	Data(c *Conn, dir sdk.Direction, data []byte, ts time.Time)
	// Gap reports that the next n bytes of one direction are lost for good.
	Gap(c *Conn, dir sdk.Direction, n int, ts time.Time)
	// Close ends the connection; c is not used by the Assembler afterwards.
	Close(c *Conn, reason CloseReason, ts time.Time)
}

// SegmentHandler is implemented by Handlers that also want to see every
// segment or datagram the Assembler attributes to a connection, as captured,
// whether or not it carries new bytes: the SYN that opens a connection, pure
// ACKs, retransmissions, keep-alives and the RST or FIN that closes it. Flow
// analysis (runtime/flow) needs them; reassembly alone does not.
//
// Segment comes after Open and before the Data, Gap or Close the segment
// causes. s and its payload are valid only during the call. Segments that
// belong to no connection (a stray RST, a straggler after the close) are not
// passed on.
type SegmentHandler interface {
	Segment(c *Conn, dir sdk.Direction, s *packet.Segment)
}

// Assembler reassembles the connections of one shard of traffic. It is not
// safe for concurrent use.
type Assembler struct {
	cfg Config
	h   Handler
	// seg is h when it is also a SegmentHandler, found once in New so the
	// per-packet path does not repeat the type assertion.
	seg   SegmentHandler
	conns map[connKey]*Conn
	tcp   connList // least recently active first
	udp   connList // kept apart from tcp so each stays ordered by one timeout
	bufs  connList // connections holding out-of-order bytes, longest first
	// buffered is the out-of-order bytes held across all connections.
	buffered int
	lastID   uint64
	// last caches the previous lookup: packets of a flow come in bursts and
	// hashing two addresses per packet is the dominant in-order cost.
	last  *Conn
	stats Stats
}

// New returns an Assembler that reports to h, which may also implement
// SegmentHandler. Zero fields of cfg take their defaults.
func New(cfg Config, h Handler) *Assembler {
	if h == nil {
		h = nopHandler{}
	}
	sh, _ := h.(SegmentHandler)
	return &Assembler{
		cfg:   cfg.WithDefaults(),
		h:     h,
		seg:   sh,
		conns: make(map[connKey]*Conn),
		bufs:  connList{buf: true},
	}
}

// Add feeds one TCP segment or UDP datagram. s.Payload is not retained past
// the call. Segments of other transports are counted and ignored.
func (a *Assembler) Add(s *packet.Segment) {
	if s == nil {
		return
	}
	a.stats.Packets++
	switch s.Transport {
	case packet.TCP:
		a.addTCP(s)
	case packet.UDP:
		a.addUDP(s)
	default:
		a.stats.IgnoredSegments++
	}
}

// FlushIdle closes connections idle for longer than their timeout as of
// now, a capture time, and forgets closed TCP 5-tuples older than that.
func (a *Assembler) FlushIdle(now time.Time) {
	a.expire(&a.tcp, a.cfg.IdleTimeout, now)
	a.expire(&a.udp, a.cfg.UDPIdleTimeout, now)
}

// FlushAll ends the input: it delivers whatever buffered data can be
// delivered, reports the remaining holes as gaps and closes every
// connection with CloseFlush, in order of ID.
func (a *Assembler) FlushAll(now time.Time) {
	all := make([]*Conn, 0, len(a.conns))
	for _, c := range a.conns {
		all = append(all, c)
	}
	slices.SortFunc(all, func(x, y *Conn) int { return cmp.Compare(x.ID, y.ID) })
	for _, c := range all {
		if c.closed {
			a.remove(c)
			continue
		}
		a.closeConn(c, CloseFlush, now)
	}
}

// Stats returns a snapshot of the counters.
func (a *Assembler) Stats() Stats {
	s := a.stats
	s.ActiveConns = int(s.ConnsOpened - s.ConnsClosed)
	s.BufferedBytes = a.buffered
	return s
}

func (a *Assembler) lookup(s *packet.Segment) *Conn {
	if c := a.last; c != nil && c.Transport == s.Transport &&
		((s.Src == c.A && s.Dst == c.B) || (s.Src == c.B && s.Dst == c.A)) {
		return c
	}
	c := a.conns[makeKey(s.Transport, s.Src, s.Dst)]
	if c != nil {
		a.last = c
	}
	return c
}

// open registers a new connection, evicting the least recently active one
// first if the table is full, and announces it to the Handler.
func (a *Assembler) open(s *packet.Segment, aSide, bSide netip.AddrPort, oriented bool) *Conn {
	for len(a.conns) >= a.cfg.MaxConns && a.evictOldest(s.Timestamp) {
	}
	a.lastID++
	c := &Conn{
		ID:        a.lastID,
		Transport: s.Transport,
		A:         aSide,
		B:         bSide,
		Oriented:  oriented,
		FirstSeen: s.Timestamp,
		LastSeen:  s.Timestamp,
		key:       makeKey(s.Transport, s.Src, s.Dst),
	}
	a.conns[c.key] = c
	a.list(c).pushBack(c)
	a.last = c
	a.stats.ConnsOpened++
	a.h.Open(c, s.Timestamp)
	return c
}

func (a *Assembler) list(c *Conn) *connList {
	if c.Transport == packet.UDP {
		return &a.udp
	}
	return &a.tcp
}

func (a *Assembler) timeout(c *Conn) time.Duration {
	if c.Transport == packet.UDP {
		return a.cfg.UDPIdleTimeout
	}
	return a.cfg.IdleTimeout
}

func (a *Assembler) touch(c *Conn, ts time.Time) {
	if ts.After(c.LastSeen) {
		c.LastSeen = ts
	}
	a.list(c).moveToBack(c)
}

// remove forgets a connection without telling the Handler.
func (a *Assembler) remove(c *Conn) {
	if a.conns[c.key] == c {
		delete(a.conns, c.key)
	}
	a.list(c).remove(c)
	if c.inBuf {
		a.bufs.remove(c)
		c.inBuf = false
	}
	if a.last == c {
		a.last = nil
	}
}

// closeConn gives up on every hole, tells the Handler, and either forgets
// the connection or, after FIN or RST, keeps its 5-tuple so that stragglers
// are recognised.
func (a *Assembler) closeConn(c *Conn, reason CloseReason, ts time.Time) {
	if c.closed {
		return
	}
	if c.Transport == packet.TCP {
		a.flushHalf(c, sdk.DirA, ts)
		a.flushHalf(c, sdk.DirB, ts)
	}
	c.closed = true
	a.stats.ConnsClosed++
	a.h.Close(c, reason, ts)
	if c.Transport == packet.TCP && (reason == CloseFIN || reason == CloseRST) {
		return
	}
	a.remove(c)
}

// evictOldest makes room for one connection; it reports false when there
// is nothing left to evict.
func (a *Assembler) evictOldest(ts time.Time) bool {
	v := a.tcp.head
	if u := a.udp.head; v == nil || (u != nil && u.LastSeen.Before(v.LastSeen)) {
		v = u
	}
	if v == nil {
		return false
	}
	if v.closed {
		a.remove(v)
		return true
	}
	a.stats.ConnsEvicted++
	a.closeConn(v, CloseEvicted, ts)
	return true
}

func (a *Assembler) expire(l *connList, timeout time.Duration, now time.Time) {
	for c := l.head; c != nil; {
		next := c.lru.next
		if now.Sub(c.LastSeen) <= timeout {
			// The list is in order of activity, so the rest are younger.
			return
		}
		if c.closed {
			a.remove(c)
		} else {
			a.closeConn(c, CloseIdle, now)
		}
		c = next
	}
}

type nopHandler struct{}

func (nopHandler) Open(*Conn, time.Time)                        {}
func (nopHandler) Data(*Conn, sdk.Direction, []byte, time.Time) {}
func (nopHandler) Gap(*Conn, sdk.Direction, int, time.Time)     {}
func (nopHandler) Close(*Conn, CloseReason, time.Time)          {}
