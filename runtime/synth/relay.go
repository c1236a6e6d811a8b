package synth

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// RelayOptions configures a Relay. The zero value is usable.
type RelayOptions struct {
	// Server is the address the server is given in the capture; it defaults
	// to 10.0.1.1:80, so tools dissect HTTP on it without being told.
	Server netip.AddrPort
	// Client, if set, is the address every connection comes from, with
	// ports counting up from 49152 per connection: the relay then stands
	// for one calling service, so a map of who talks to whom links it to
	// the server. Unset, each connection gets a client address of its own.
	Client netip.Addr
	// Clock stamps the recorded frames; nil means time.Now. A virtual
	// clock keeps timestamps independent of how fast the machine runs.
	Clock func() time.Time
	// Logger receives connection errors; nil discards them.
	Logger *slog.Logger
}

// Relay records real traffic as a capture. It listens on 127.0.0.1:0,
// forwards every accepted connection to a target, and writes what each side
// sent, at the time it was read, as a TCP conversation between made-up
// stable addresses: connection i comes from 10.0.x.y (a new client address
// per connection, or RelayOptions.Client) to RelayOptions.Server.
type Relay struct {
	ln     net.Listener
	target string
	w      *Writer
	server netip.AddrPort
	client netip.Addr
	now    func() time.Time
	log    *slog.Logger

	mu     sync.Mutex
	active map[net.Conn]struct{}
	count  int
	closed bool
	wg     sync.WaitGroup
}

// NewRelay starts a relay to target (host:port) recording into w.
func NewRelay(target string, w *Writer, opts RelayOptions) (*Relay, error) {
	if !opts.Server.IsValid() {
		opts.Server = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, 1}), 80)
	}
	if opts.Client.IsValid() && opts.Client.Is4() != opts.Server.Addr().Is4() {
		return nil, fmt.Errorf("synth: relay: client %v and server %v are of different IP versions", opts.Client, opts.Server)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("synth: relay: %w", err)
	}
	r := &Relay{ln: ln, target: target, w: w, server: opts.Server, client: opts.Client, now: opts.Clock, log: opts.Logger, active: make(map[net.Conn]struct{})}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr is the address clients should connect to instead of the target.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Conns returns the number of connections accepted so far.
func (r *Relay) Conns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// Close stops accepting, closes connections still open (recording them as
// closed) and waits until everything accepted has been written.
func (r *Relay) Close() error {
	r.mu.Lock()
	r.closed = true
	for c := range r.active {
		c.Close()
	}
	r.mu.Unlock()
	err := r.ln.Close()
	r.wg.Wait()
	return err
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.log.Warn("relay accept", "err", err)
			}
			return
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			c.Close()
			return
		}
		r.active[c] = struct{}{}
		i := r.count
		r.count++
		r.wg.Add(1)
		r.mu.Unlock()
		go r.serve(c, i)
	}
}

// clientAddr gives connection i its own address and port: 10.0.0.1,
// 10.0.0.2, ... with ports counting up from 49152, as a row of hosts behind
// one server would look.
func clientAddr(i int) netip.AddrPort {
	host := i % (254 * 250)
	a := netip.AddrFrom4([4]byte{10, 0, byte(host / 254), byte(host%254 + 1)})
	return netip.AddrPortFrom(a, uint16(49152+i%16384))
}

// clientAddr is connection i's client address: RelayOptions.Client with a
// port of its own if set, the default row of hosts otherwise.
func (r *Relay) clientAddr(i int) netip.AddrPort {
	if r.client.IsValid() {
		return netip.AddrPortFrom(r.client, uint16(49152+i%16384))
	}
	return clientAddr(i)
}

func (r *Relay) serve(c net.Conn, i int) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.active, c)
		r.mu.Unlock()
		c.Close()
	}()
	up, err := net.Dial("tcp", r.target)
	if err != nil {
		r.log.Warn("relay dial", "target", r.target, "err", err)
		return
	}
	defer up.Close()
	conv := r.w.Conn(r.clientAddr(i), r.server, r.now())

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.pipe(c, up, conv.Client) }()
	go func() { defer wg.Done(); r.pipe(up, c, conv.Server) }()
	wg.Wait()
	if err := conv.Close(r.now()); err != nil {
		r.log.Warn("relay record close", "err", err)
	}
}

// pipe copies src to dst, recording each chunk before forwarding it: a
// response cannot then be recorded before the request that caused it.
func (r *Relay) pipe(src, dst net.Conn, record func([]byte, time.Time) error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if rerr := record(buf[:n], r.now()); rerr != nil {
				r.log.Warn("relay record", "err", rerr)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				// A reset or a Close: the other direction cannot go on
				// either, and its Read must not block forever.
				r.log.Debug("relay read", "err", err)
				src.Close()
				dst.Close()
				return
			}
			break
		}
	}
	// Pass the half-close on, so the other side sees EOF as it would
	// without the relay.
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
}
