package pipeline

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/runtime/reassembly"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Plaintext is a piece of one TCP connection's application bytes, captured
// in order by a tracer inside one of its endpoints' processes (TLS
// plaintext from bpf/tls) rather than taken from packets.
type Plaintext struct {
	Time time.Time
	// Local and Remote are the connection's endpoints as the capturing
	// process sees them.
	Local, Remote netip.AddrPort
	// Sent is true when the process wrote Data (Local → Remote), false when
	// it read it (Remote → Local).
	Sent bool
	Data []byte
	// Gap is the number of bytes that followed Data in the same direction
	// and were not captured.
	Gap int
	// Closed reports that the process closed the connection; Data is
	// ignored.
	Closed bool
	// Owner identifies the capturing process (its pid). When both ends of
	// a connection are traced (a local client and server), the bytes of the
	// first owner seen are used and the other end's copy is dropped, so
	// every exchange is recorded once.
	Owner uint32
}

// plainKey is a connection's unordered endpoint pair.
type plainKey struct{ lo, hi netip.AddrPort }

func makePlainKey(a, b netip.AddrPort) plainKey {
	a, b = unmapAP(a), unmapAP(b)
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	return plainKey{a, b}
}

func unmapAP(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// plainGrace is how long a closed connection stays in the plaintext set:
// its last encrypted packets may still be in the packet path's queues.
const plainGrace = 2 * time.Minute

// plainSet is the set of TCP connections whose plaintext a pipeline
// receives. The packet path consults it to drop what the encrypted packets
// of those connections would record twice.
type plainSet struct {
	used   atomic.Bool // set once: the packet path's check is free until then
	mu     sync.RWMutex
	m      map[plainKey]time.Time // zero while open, else when closed
	purged time.Time
}

func (s *plainSet) add(k plainKey) {
	s.used.Store(true)
	s.mu.Lock()
	if s.m == nil {
		s.m = map[plainKey]time.Time{}
	}
	s.m[k] = time.Time{}
	s.mu.Unlock()
}

func (s *plainSet) closed(k plainKey, now time.Time) {
	s.mu.Lock()
	if _, ok := s.m[k]; ok {
		s.m[k] = now
	}
	if now.Sub(s.purged) > plainGrace {
		for k, t := range s.m {
			if !t.IsZero() && now.Sub(t) > plainGrace {
				delete(s.m, k)
			}
		}
		s.purged = now
	}
	s.mu.Unlock()
}

func (s *plainSet) has(k plainKey) bool {
	if !s.used.Load() {
		return false
	}
	s.mu.RLock()
	_, ok := s.m[k]
	s.mu.RUnlock()
	return ok
}

// CapturesPlaintext reports whether the pipeline receives (or recently
// received) the plaintext of the TCP connection between a and b, in either
// order. Records that the packet path makes from such a connection's
// encrypted packets are dropped, all but the TLS handshake's.
func (p *Pipeline) CapturesPlaintext(a, b netip.AddrPort) bool {
	return p.plain.has(makePlainKey(a, b))
}

// plainStreamID names a plaintext stream: derived from the connection's
// endpoints and first time like a packet stream's id, but never equal to
// it, so the decrypted stream and the encrypted one are told apart while
// their records share the 5-tuple.
func plainStreamID(c *reassembly.Conn) string {
	return "p" + strconv.FormatUint(connHash(c, "tls-plaintext"), 16)
}

// plainLate is how long after a connection ends the other end's copy of
// its plaintext is still dropped. When both ends are traced, the tracer
// reports a call when it returns, so the server's SSL_write of the last
// response may come after the client has read it and closed: without this
// it would open the connection again as a response without its request.
// A new connection on the same four-tuple this soon is not expected: the
// end that closed first holds it in TIME_WAIT for a minute.
const plainLate = 5 * time.Second

// endedConn is the owner of a connection that ended, and when.
type endedConn struct {
	owner uint32
	at    time.Time
}

// plainConn is one connection on a plaintext worker.
type plainConn struct {
	c     *reassembly.Conn
	owner uint32
}

// RunPlaintext feeds connections' plaintext from in to the dissectors
// until in is closed or ctx is done, then closes what is still open and
// returns what it did. It may run beside Run on the same pipeline, with
// the same sink (which must then accept concurrent Puts, as storage.Store
// does).
//
// Each connection becomes a stream of its own, oriented like a packet
// stream whose handshake was missed: the dissector that recognises the
// bytes says which side is the client (an HTTP request is the client's), so
// records have the right Src and Dst whichever end was traced. Its records
// carry TLS true and a stream id distinct from the encrypted packets'. A
// connection ends with its Closed chunk, or after the reassembly idle
// timeout without bytes. No L4 flow is made for it: the packet path
// reports the connection's flow.
func (p *Pipeline) RunPlaintext(ctx context.Context, in <-chan Plaintext) (Stats, error) {
	start := time.Now()
	out := make(chan output, p.cfg.Workers*2)
	var sinkErr error
	sinkDone := make(chan struct{})
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		defer close(sinkDone)
		for o := range out {
			if sinkErr == nil {
				if sinkErr = p.store(ctx, o); sinkErr != nil {
					cancel(sinkErr)
				}
			}
		}
	}()
	workers := make([]*worker, p.cfg.Workers)
	chans := make([]chan Plaintext, len(workers))
	var wg sync.WaitGroup
	for i := range workers {
		w, err := p.newWorker(ctx, i, out)
		if err != nil {
			for _, c := range chans[:i] {
				close(c)
			}
			wg.Wait()
			close(out)
			<-sinkDone
			return Stats{}, err
		}
		workers[i], chans[i] = w, make(chan Plaintext, 256)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.runPlain(chans[i])
		}()
	}
	var st Stats
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			err = context.Cause(ctx)
			break loop
		case pt, ok := <-in:
			if !ok {
				break loop
			}
			k := makePlainKey(pt.Local, pt.Remote)
			h := fnv.New32a()
			h.Write(k.lo.Addr().AsSlice())
			h.Write(k.hi.Addr().AsSlice())
			h.Write([]byte{byte(k.lo.Port() >> 8), byte(k.lo.Port()), byte(k.hi.Port() >> 8), byte(k.hi.Port())})
			st.Bytes += int64(len(pt.Data))
			select {
			case chans[int(h.Sum32()%uint32(len(chans)))] <- pt:
			case <-ctx.Done():
				err = context.Cause(ctx)
				break loop
			}
		}
	}
	for _, c := range chans {
		close(c)
	}
	wg.Wait()
	close(out)
	<-sinkDone
	for _, w := range workers {
		st.add(&w.stats)
	}
	st.Elapsed = time.Since(start)
	if sinkErr != nil {
		return st, fmt.Errorf("plaintext: %w", sinkErr)
	}
	return st, err
}

// runPlain is a worker's loop for plaintext: the reassembly.Handler
// methods are called directly, since the bytes are already in order.
func (w *worker) runPlain(in <-chan Plaintext) {
	conns := map[plainKey]*plainConn{}
	ended := map[plainKey]endedConn{}
	idle := w.p.cfg.Reassembly.WithDefaults().IdleTimeout
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var nextID uint64
	closeConn := func(k plainKey, pc *plainConn, reason reassembly.CloseReason, ts time.Time) {
		w.Close(pc.c, reason, ts)
		delete(conns, k)
		ended[k] = endedConn{pc.owner, time.Now()}
		w.p.plain.closed(k, time.Now())
	}
	for {
		select {
		case pt, ok := <-in:
			if !ok {
				for k, pc := range conns {
					closeConn(k, pc, reassembly.CloseFlush, pc.c.LastSeen)
				}
				w.flushBatch(true)
				for _, s := range w.slots {
					if s.inst != nil {
						s.inst.Destroy(context.Background())
					}
				}
				return
			}
			k := makePlainKey(pt.Local, pt.Remote)
			pc := conns[k]
			if pc == nil {
				if pt.Closed {
					continue
				}
				if e, ok := ended[k]; ok && e.owner != pt.Owner && time.Since(e.at) < plainLate {
					w.stats.PlaintextDuplicates++
					continue
				}
				nextID++
				pc = &plainConn{owner: pt.Owner, c: &reassembly.Conn{
					ID: nextID, Transport: packet.TCP,
					// A is the capturing process's end.
					A: unmapAP(pt.Local), B: unmapAP(pt.Remote),
					FirstSeen: pt.Time, LastSeen: pt.Time,
				}}
				conns[k] = pc
				w.p.plain.add(k)
				w.Open(pc.c, pt.Time)
				if st, _ := pc.c.State.(*stream); st != nil {
					st.plain = true
				}
			}
			if pt.Owner != pc.owner {
				w.stats.PlaintextDuplicates++
				continue
			}
			if pt.Time.After(pc.c.LastSeen) {
				pc.c.LastSeen = pt.Time
			}
			if pt.Closed {
				closeConn(k, pc, reassembly.CloseFIN, pt.Time)
				continue
			}
			dir := sdk.DirA
			if !pt.Sent {
				dir = sdk.DirB
			}
			pc.c.Dirs[dir].Packets++
			pc.c.Dirs[dir].Bytes += uint64(len(pt.Data))
			w.Data(pc.c, dir, pt.Data, pt.Time)
			if pt.Gap > 0 {
				pc.c.Dirs[dir].Gaps++
				pc.c.Dirs[dir].GapBytes += uint64(pt.Gap)
				w.Gap(pc.c, dir, pt.Gap, pt.Time)
			}
			w.flushBatch(false)
		case now := <-tick.C:
			for k, e := range ended {
				if now.Sub(e.at) >= plainLate {
					delete(ended, k)
				}
			}
			for k, pc := range conns {
				if now.Sub(pc.c.LastSeen) > idle {
					closeConn(k, pc, reassembly.CloseIdle, now)
				}
			}
			// Live sources trickle: deliver what is ready rather than
			// wait for a full batch.
			w.flushBatch(true)
		}
	}
}
