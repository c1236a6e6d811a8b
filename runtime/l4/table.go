package l4

import (
	"net/netip"
	"sync"
	"time"

	"github.com/kubeshark-wasm/kubeshark/bpf/conns"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Limits on what a Table remembers.
const (
	// keepClosed is how long a closed connection stays matchable: the
	// pipeline stores a flow soon after its last packet.
	keepClosed = 5 * time.Minute
	// keepIdleSocket is how long a socket that reports nothing stays known.
	keepIdleSocket = time.Hour
	// keepIdlePackets is how long a connection known only from the packet
	// hooks (a UDP flow, a socket older than capture) stays known after its
	// last packet: longer than the pipeline keeps an idle flow.
	keepIdlePackets = 10 * time.Minute
	// perTuple bounds the connections remembered for one 5-tuple (reuse).
	perTuple = 4
	// maxSockets bounds the sockets followed; beyond it the oldest go.
	maxSockets = 1 << 18
	// slack widens a flow's time span when matching: packet and event
	// clocks are the same CLOCK_MONOTONIC, but a flow's first packet may
	// precede the connection's first event by the hook's delay.
	slack = time.Second
)

// key is a connection's two ends in a fixed order.
type key struct{ a, b netip.AddrPort }

func keyOf(x, y netip.AddrPort) (key, bool) {
	if x.Addr().Less(y.Addr()) || (x.Addr() == y.Addr() && x.Port() < y.Port()) {
		return key{x, y}, true
	}
	return key{y, x}, false
}

// end is one local socket of a connection.
type end struct {
	// known: something was seen of this end; attached: its kernel socket
	// reported events (the packet hooks alone only give a cgroup id).
	known, attached bool
	proc            sdk.Process
	state           uint8
	closed          bool
}

// conn is one connection: its local ends (by whether the end is key.a) and
// what the kernel counted.
type conn struct {
	ends                       [2]end // [0]: key.a is local; [1]: key.b
	opened, closed, lastSeen   time.Time
	retrans, rstSent, rstRecvd uint64
}

func (c *conn) allClosed() bool {
	any := false
	for _, e := range c.ends {
		if e.known && !e.closed {
			return false
		}
		any = any || e.known
	}
	return any
}

// sock is a live kernel socket, by its address.
type sock struct {
	proc     sdk.Process
	c        *conn
	side     int
	opened   time.Time // its connect, before its port was known
	lastSeen time.Time
}

// Stats counts what a Table did.
type Stats struct {
	// Events is kernel events observed; Connections the connections known
	// now; Annotated the flows given kernel context.
	Events, Connections, Annotated uint64
}

// Table is the connections the kernel reported. It is safe for concurrent
// use: events, packets and the store's writes come from different
// goroutines.
type Table struct {
	mu        sync.Mutex
	socks     map[uint64]*sock
	conns     map[key][]*conn // oldest first
	lastSweep time.Time
	stats     Stats
	// lastPkt skips the table for a run of packets of one socket.
	lastPkt struct {
		local, remote netip.AddrPort
		cgroup        uint64
	}
}

// New makes an empty Table.
func New() *Table {
	return &Table{socks: map[uint64]*sock{}, conns: map[key][]*conn{}}
}

// Observe folds one kernel event into the table.
func (t *Table) Observe(e *conns.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.Events++
	t.sweep(e.Time)
	if e.Kind == conns.ResetSent && e.Sock == 0 {
		// A reset for a packet no socket owned (a refused connection):
		// counted on the peer's connection when it is local.
		// Its events may come before the peer socket's own (two ring
		// buffers): a connection made here is joined by that socket.
		c := t.latest(e.Local, e.Remote)
		if c == nil {
			c = t.newConn(e.Local, e.Remote, e.Time)
		}
		c.rstSent++
		return
	}
	if e.Kind == conns.State && (e.New == conns.Listen || e.Old == conns.Listen && e.New == conns.Close) {
		return // a listening socket, no connection
	}
	s := t.socks[e.Sock]
	if s == nil {
		if e.Kind == conns.State && e.New == conns.Close {
			return // a socket we never knew, gone
		}
		if len(t.socks) >= maxSockets {
			t.evictOldest()
		}
		s = &sock{}
		t.socks[e.Sock] = s
	}
	s.lastSeen = e.Time
	if s.c == nil && e.Kind == conns.State && e.New == conns.SynSent {
		s.opened = e.Time
	}
	if e.Cgroup != 0 {
		s.proc.CgroupID = e.Cgroup
	}
	if e.PID != 0 && (s.proc.PID == 0 || e.Kind == conns.Accept) {
		s.proc.PID, s.proc.Comm = int(e.PID), e.Comm
	}
	if s.c == nil && e.Remote.Port() != 0 && e.Local.Port() != 0 {
		opened := e.Time
		if !s.opened.IsZero() {
			opened = s.opened
		}
		s.c, s.side = t.join(e.Local, e.Remote, opened)
	}
	c := s.c
	if c == nil {
		return // connect before its port is chosen: the next event attaches it
	}
	c.lastSeen = e.Time
	en := &c.ends[s.side]
	en.proc = s.proc
	switch e.Kind {
	case conns.State:
		en.state = e.New
		if e.New == conns.Close {
			en.closed = true
			delete(t.socks, e.Sock)
			if c.allClosed() {
				c.closed = e.Time
			}
		}
	case conns.Retransmit:
		c.retrans++
	case conns.ResetReceived:
		c.rstRecvd++
	case conns.ResetSent:
		c.rstSent++
	case conns.Accept:
		if en.state == 0 {
			en.state = conns.Established
		}
	}
}

// join finds or makes the connection a newly seen local socket belongs to.
func (t *Table) join(local, remote netip.AddrPort, at time.Time) (*conn, int) {
	k, first := keyOf(local, remote)
	side := 1
	if first {
		side = 0
	}
	list := t.conns[k]
	if n := len(list); n > 0 {
		if c := list[n-1]; !c.ends[side].attached && c.closed.IsZero() {
			c.ends[side].known, c.ends[side].attached = true, true
			if at.Before(c.opened) {
				c.opened = at
			}
			return c, side
		}
	}
	c := &conn{opened: at}
	c.ends[side].known, c.ends[side].attached = true, true
	if len(list) >= perTuple {
		list = list[1:]
	}
	t.conns[k] = append(list, c)
	t.stats.Connections++
	return c, side
}

// newConn starts a connection of the tuple with no local end yet.
func (t *Table) newConn(x, y netip.AddrPort, at time.Time) *conn {
	k, _ := keyOf(x, y)
	list := t.conns[k]
	if len(list) >= perTuple {
		list = list[1:]
	}
	c := &conn{opened: at}
	t.conns[k] = append(list, c)
	t.stats.Connections++
	return c
}

func (t *Table) latest(x, y netip.AddrPort) *conn {
	k, _ := keyOf(x, y)
	list := t.conns[k]
	if len(list) == 0 {
		return nil
	}
	return list[len(list)-1]
}

// SeenPacket records the cgroup id the packet hooks gave a local socket
// (local is the packet's source on egress, its destination on ingress). It
// is how flows of sockets that predate capture, and UDP flows, get a
// cgroup id.
func (t *Table) SeenPacket(local, remote netip.AddrPort, cgroup uint64, at time.Time) {
	if cgroup == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if l := &t.lastPkt; l.local == local && l.remote == remote && l.cgroup == cgroup {
		return
	}
	t.lastPkt.local, t.lastPkt.remote, t.lastPkt.cgroup = local, remote, cgroup
	t.sweep(at)
	k, first := keyOf(local, remote)
	side := 1
	if first {
		side = 0
	}
	list := t.conns[k]
	var c *conn
	if n := len(list); n > 0 {
		// The latest connection, even closed: a late packet (the final
		// ACK) must not start a new one; a reused tuple gets its own
		// from the kernel's events.
		c = list[n-1]
	} else {
		c = &conn{opened: at}
		t.conns[k] = append(list, c)
		t.stats.Connections++
	}
	c.lastSeen = at
	en := &c.ends[side]
	en.known = true
	if en.proc.CgroupID == 0 {
		en.proc.CgroupID = cgroup
	}
}

// find returns the connection of the tuple whose life overlaps [from, to]
// and which opened nearest from (a reused tuple has several).
func (t *Table) find(x, y netip.AddrPort, from, to time.Time) (*conn, bool) {
	k, first := keyOf(x, y)
	var best *conn
	var bestGap time.Duration
	for _, c := range t.conns[k] {
		if c.opened.After(to.Add(slack)) || (!c.closed.IsZero() && c.closed.Before(from.Add(-slack))) {
			continue
		}
		gap := c.opened.Sub(from)
		if gap < 0 {
			gap = -gap
		}
		if best == nil || gap < bestGap {
			best, bestGap = c, gap
		}
	}
	return best, first
}

func addrPort(e sdk.Endpoint) (netip.AddrPort, bool) {
	a, err := netip.ParseAddr(e.IP)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), e.Port), true
}

func procOf(en *end) *sdk.Process {
	if !en.known || en.proc == (sdk.Process{}) {
		return nil
	}
	p := en.proc
	return &p
}

// AnnotateFlow puts what the kernel said about f's connection on f: each
// local end's process, the local process in short (PID, Comm, CgroupID)
// and, for TCP connections the kernel reported, f.Kernel. It reports
// whether it found the connection.
func (t *Table) AnnotateFlow(f *sdk.Flow) bool {
	cl, ok1 := addrPort(f.Client)
	sv, ok2 := addrPort(f.Server)
	if !ok1 || !ok2 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c, clientIsA := t.find(cl, sv, f.Start, f.End)
	if c == nil {
		return false
	}
	t.stats.Annotated++
	ci, si := 1, 0
	if clientIsA {
		ci, si = 0, 1
	}
	f.Client.Process = procOf(&c.ends[ci])
	f.Server.Process = procOf(&c.ends[si])
	for _, p := range []*sdk.Process{f.Client.Process, f.Server.Process} {
		if p != nil {
			f.PID, f.Comm, f.CgroupID = p.PID, p.Comm, p.CgroupID
			break
		}
	}
	if f.Transport != "tcp" {
		return true
	}
	k := &sdk.KernelFlow{Retransmits: c.retrans, ResetsSent: c.rstSent, ResetsReceived: c.rstRecvd}
	if !c.opened.IsZero() {
		o := c.opened
		k.OpenedAt = &o
	}
	if !c.closed.IsZero() {
		cl := c.closed
		k.ClosedAt = &cl
	}
	for _, i := range []int{ci, si} {
		if en := &c.ends[i]; en.known && en.state != 0 {
			k.States = append(k.States, conns.StateName(en.state))
		}
	}
	f.Kernel = k
	return true
}

// AnnotateRecord puts each local end's process on r.Src and r.Dst.
func (t *Table) AnnotateRecord(r *sdk.Record) {
	src, ok1 := addrPort(r.Src)
	dst, ok2 := addrPort(r.Dst)
	if !ok1 || !ok2 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c, srcIsA := t.find(src, dst, r.Timestamp, r.Timestamp)
	if c == nil {
		return
	}
	si, di := 1, 0
	if srcIsA {
		si, di = 0, 1
	}
	r.Src.Process = procOf(&c.ends[si])
	r.Dst.Process = procOf(&c.ends[di])
}

// Stats returns the table's counts.
func (t *Table) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

// sweep forgets closed connections and silent sockets, at most every few
// seconds of event time.
func (t *Table) sweep(now time.Time) {
	if now.Sub(t.lastSweep) < 10*time.Second {
		return
	}
	t.lastSweep = now
	for k, list := range t.conns {
		kept := list[:0]
		for _, c := range list {
			switch {
			case !c.closed.IsZero() && now.Sub(c.closed) >= keepClosed:
			case c.closed.IsZero() && !c.ends[0].attached && !c.ends[1].attached && now.Sub(c.lastSeen) >= keepIdlePackets:
			default:
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			delete(t.conns, k)
		} else {
			t.conns[k] = kept
		}
	}
	for id, s := range t.socks {
		if now.Sub(s.lastSeen) > keepIdleSocket {
			delete(t.socks, id)
		}
	}
}

func (t *Table) evictOldest() {
	var oldest uint64
	var at time.Time
	for id, s := range t.socks {
		if at.IsZero() || s.lastSeen.Before(at) {
			oldest, at = id, s.lastSeen
		}
	}
	delete(t.socks, oldest)
}
