package synth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// liveClock stamps what happens while a client waits on the real clock:
// from the moment a query is sent (wait), every record is stamped at the
// capture time of the query plus the real time since, so a resolver's
// retries and a late answer fall where they happened.
type liveClock struct {
	clock *simClock
	mu    sync.Mutex
	virt  time.Time
	real  time.Time
}

func (l *liveClock) wait() {
	l.mu.Lock()
	l.virt, l.real = l.clock.Now(), time.Now()
	l.mu.Unlock()
}

func (l *liveClock) now() time.Time {
	l.mu.Lock()
	t := l.virt.Add(time.Since(l.real))
	l.mu.Unlock()
	l.clock.SleepUntil(t)
	return l.clock.Now()
}

// udpRelay records DNS over UDP as a capture shows it: it listens on
// loopback and forwards each datagram to target, and each client socket
// (a new source port per Go resolver query) gets a socket of its own to
// the target and a port of its own in the capture, from client.
type udpRelay struct {
	pc     net.PacketConn
	target string
	server netip.AddrPort // in the capture
	client netip.Addr
	port   uint16 // the next client port in the capture
	live   *liveClock
	pw     *Writer
	errs   *firstError
	// onQuery, if set, runs before each query is recorded (the client's
	// side starts the live clock there). Set before serving starts.
	onQuery func()

	mu    sync.Mutex
	peers map[string]*udpPeer
	wg    sync.WaitGroup
}

type udpPeer struct {
	from net.Addr
	at   netip.AddrPort // in the capture
	up   net.Conn
}

func newUDPRelay(target string, server netip.AddrPort, client netip.Addr, port uint16, live *liveClock, onQuery func(), s *stage) (*udpRelay, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("udp relay to %s: %w", target, err)
	}
	r := &udpRelay{pc: pc, target: target, server: server, client: client, port: port, live: live, onQuery: onQuery, pw: s.pw, errs: &s.errs, peers: map[string]*udpPeer{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

func (r *udpRelay) addr() string { return r.pc.LocalAddr().String() }

func (r *udpRelay) serve() {
	defer r.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := r.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue // not DNS
		}
		// A peer per client socket and query ID: Go's resolver and
		// unbound both send each query from a socket of its own, whose
		// port the system may hand out again later.
		key := fmt.Sprintf("%s#%x", from, buf[:2])
		r.mu.Lock()
		p := r.peers[key]
		if p == nil {
			up, err := net.Dial("udp", r.target)
			if err != nil {
				r.mu.Unlock()
				r.errs.set(fmt.Errorf("udp relay to %s: %w", r.target, err))
				continue
			}
			p = &udpPeer{from: from, at: netip.AddrPortFrom(r.client, r.port+uint16(len(r.peers))), up: up}
			r.peers[key] = p
			r.wg.Add(1)
			go r.answers(p)
		}
		r.mu.Unlock()
		if r.onQuery != nil {
			r.onQuery()
		}
		if err := r.pw.UDP(p.at, r.server, buf[:n], r.live.now()); err != nil {
			r.errs.set(err)
		}
		p.up.Write(buf[:n])
	}
}

func (r *udpRelay) answers(p *udpPeer) {
	defer r.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, err := p.up.Read(buf)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue
			}
			return
		}
		if err := r.pw.UDP(r.server, p.at, buf[:n], r.live.now()); err != nil {
			r.errs.set(err)
		}
		r.pc.WriteTo(buf[:n], p.from)
	}
}

// conns is the number of client sockets relayed.
func (r *udpRelay) conns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.peers)
}

func (r *udpRelay) close() {
	r.pc.Close()
	r.mu.Lock()
	for _, p := range r.peers {
		p.up.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// unboundServer is a Debian unbound of the scenario's own, on a loopback
// port, configured by the server: clauses given.
type unboundServer struct {
	addr string
	conf string
	cmd  *exec.Cmd
	dir  string
	log  *bytes.Buffer
}

// startUnbound runs unbound in the foreground with server and the other
// clauses as its configuration (no chroot, no privilege drop, no DNSSEC
// validation: nothing outside the scenario's zones is resolved), with
// unbound-control on a local socket, and waits until it answers.
func startUnbound(ctx context.Context, server, rest string) (*unboundServer, error) {
	bin, err := exec.LookPath("unbound")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/unbound"); err != nil {
			return nil, fmt.Errorf("%w: unbound (Debian package unbound)", ErrMissingTool)
		}
	}
	dir, err := os.MkdirTemp("", "kubeshark-unbound-")
	if err != nil {
		return nil, err
	}
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := ln.LocalAddr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "unbound.conf")
	text := fmt.Sprintf(`server:
	interface: 127.0.0.1
	port: %s
	do-daemonize: no
	username: ""
	chroot: ""
	directory: %q
	pidfile: ""
	use-syslog: no
	logfile: ""
	verbosity: 0
	num-threads: 1
	do-ip6: no
	do-tcp: no
	so-reuseport: no
	module-config: "iterator"
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
%s
remote-control:
	control-enable: yes
	control-interface: %q
	control-use-cert: no
%s`, port, dir, server, filepath.Join(dir, "control.sock"), rest)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	u := &unboundServer{addr: addr, conf: conf, dir: dir, log: &bytes.Buffer{}}
	u.cmd = exec.Command(bin, "-d", "-c", conf)
	u.cmd.Stdout, u.cmd.Stderr = u.log, u.log
	if err := u.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting unbound: %w", err)
	}
	// Ready when unbound-control reaches it.
	for deadline := time.Now().Add(15 * time.Second); ; {
		if _, err := u.control(ctx, "status"); err == nil {
			return u, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			u.stop()
			return nil, fmt.Errorf("unbound on %s did not come up:\n%s", addr, u.log.Bytes())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// control runs unbound-control against this server.
func (u *unboundServer) control(ctx context.Context, args ...string) (string, error) {
	bin, err := exec.LookPath("unbound-control")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/unbound-control"); err != nil {
			return "", fmt.Errorf("%w: unbound-control (Debian package unbound)", ErrMissingTool)
		}
	}
	out, err := exec.CommandContext(ctx, bin, append([]string{"-c", u.conf}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("unbound-control %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (u *unboundServer) stop() {
	u.cmd.Process.Signal(syscall.SIGCONT) // a hung server still has to hear the TERM
	u.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { u.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		u.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(u.dir)
}

// goResolver is Go's own DNS client (net.Resolver, PreferGo) sending its
// queries to addr instead of /etc/resolv.conf's servers.
func goResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// The cluster resolver's address in the capture.
var clusterDNSAt = netip.MustParseAddrPort("10.0.0.2:53")

// runDNSNXDomain: checkout resolves payments through the cluster
// resolver (unbound, answering the cluster zone from its local data)
// before every charge; at the onset payments' record is removed
// (unbound-control local_data_remove, as when a Service is deleted), so
// unbound answers NXDOMAIN and the charges stop.
func runDNSNXDomain(ctx context.Context, s *stage) (GroundTruth, error) {
	pay := newService("payments", "10.0.0.30:8080")
	const name = "payments.shop.svc.cluster.local."
	ub, err := startUnbound(ctx, fmt.Sprintf(`	local-zone: "shop.svc.cluster.local." static
	local-data: "%s 5 IN A %s"
	local-data: "orders.shop.svc.cluster.local. 5 IN A 10.0.0.20"`, name, pay.addr.Addr()), "")
	if err != nil {
		return GroundTruth{}, err
	}
	s.closers = append(s.closers, ub.stop)
	live := &liveClock{clock: s.clock}
	relay, err := newUDPRelay(ub.addr, clusterDNSAt, netip.MustParseAddr(incClientIP), 40000, live, live.wait, s)
	if err != nil {
		return GroundTruth{}, err
	}
	s.closers = append([]func(){func() { relay.close(); s.udpConns += relay.conns() }}, s.closers...)

	mux := http.NewServeMux()
	pay.handle(s.clock, mux, "POST /api/charges/{customer}", func(w http.ResponseWriter, r *http.Request) {
		s.clock.Sleep(7 * time.Millisecond)
		writeJSON(w, http.StatusCreated, map[string]any{"customer": r.PathValue("customer"), "status": "captured"})
	})
	client, err := s.serve(pay, incClientIP, mux)
	if err != nil {
		return GroundTruth{}, err
	}
	res := goResolver(relay.addr())
	var faultErr error
	fault := func(bool) {
		_, faultErr = ub.control(ctx, "local_data_remove", name)
	}
	failed := 0
	onset, err := s.slots(ctx, fault, func(n int, on bool) error {
		if faultErr != nil {
			return faultErr
		}
		for k := range 2 {
			if k > 0 {
				s.pause(n, k)
			}
			_, lerr := res.LookupNetIP(ctx, "ip4", name)
			var de *net.DNSError
			switch {
			case errors.As(lerr, &de) && de.IsNotFound:
				failed++
				continue // the checkout fails before it reaches payments
			case lerr != nil:
				return fmt.Errorf("lookup %s: %w", name, lerr)
			}
			if _, _, err := send(ctx, client, http.MethodPost, pay, "/api/charges/"+names[(2*n+k)%len(names)], map[string]string{"User-Agent": "checkout/1.3"}, map[string]any{"amount": 12.5}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && failed != 2*(incidentSlots-incidentOnset) {
		err = fmt.Errorf("%d lookups failed, want every one after the onset", failed)
	}
	return GroundTruth{
		Description: "checkout (10.0.0.5) resolves payments.shop.svc.cluster.local (Go's resolver, an A query over UDP) through the cluster resolver (10.0.0.2:53, unbound serving the cluster zone) before each charge. From the onset payments' record is gone and unbound answers NXDOMAIN: every lookup fails and no charge reaches payments.",
		Kind:        "errors", RootCause: clusterDNSAt.String(), Onset: onset,
		Evidence: Evidence{Method: "A", Path: "payments.shop.svc.cluster.local", Status: 3, BodyContains: "NXDOMAIN"},
	}, err
}

// The carrier's API in the capture: outside the cluster.
const carrierAPIAt = "203.0.113.10:80"

// runDNSTimeout: shipping resolves its carrier's API through the cluster
// resolver (unbound), which forwards the carrier's zone to the carrier's
// DNS server (another unbound, serving the zone). At the onset the
// carrier's server hangs (SIGSTOP): unbound's queries to it go
// unanswered until it gives up and answers SERVFAIL, and every rate
// lookup fails. The root cause in the capture is the resolver: it is
// the server that fails there, and its answer (SERVFAIL after ~0.7s,
// then at once) is what points past it.
func runDNSTimeout(ctx context.Context, s *stage) (GroundTruth, error) {
	const name = "api.carrier.example."
	carrier, err := startUnbound(ctx, fmt.Sprintf(`	local-zone: "carrier.example." static
	local-data: "%s 30 IN A %s"`, name, netip.MustParseAddrPort(carrierAPIAt).Addr()), "")
	if err != nil {
		return GroundTruth{}, err
	}
	s.closers = append(s.closers, carrier.stop)
	// The capture is the one a tap on shipping's node takes: shipping
	// and the cluster resolver. The resolver's queries to the carrier
	// leave from another node, and the carrier's server is outside the
	// cluster: neither is in it.
	_, upPort, _ := net.SplitHostPort(carrier.addr)
	// No answer cached (each lookup goes to the carrier, as with a zone
	// of short TTLs), and a round trip bound of 400ms so that unbound
	// gives up on a silent server within a slot of the time line.
	cluster, err := startUnbound(ctx, `	cache-max-ttl: 0
	infra-cache-max-rtt: 400`, fmt.Sprintf(`forward-zone:
	name: "carrier.example."
	forward-addr: 127.0.0.1@%s
`, upPort))
	if err != nil {
		return GroundTruth{}, err
	}
	s.closers = append(s.closers, cluster.stop)
	live := &liveClock{clock: s.clock}
	down, err := newUDPRelay(cluster.addr, clusterDNSAt, netip.MustParseAddr(incClientIP), 40000, live, live.wait, s)
	if err != nil {
		return GroundTruth{}, err
	}
	s.closers = append([]func(){func() { down.close(); s.udpConns += down.conns() }}, s.closers...)

	api := newService("carrier", carrierAPIAt)
	mux := http.NewServeMux()
	api.handle(s.clock, mux, "POST /v1/rates", func(w http.ResponseWriter, r *http.Request) {
		s.clock.Sleep(12 * time.Millisecond)
		writeJSON(w, http.StatusOK, map[string]any{"service": "ground", "amount": 7.9, "currency": "EUR"})
	})
	client, err := s.serve(api, incClientIP, mux)
	if err != nil {
		return GroundTruth{}, err
	}
	res := goResolver(down.addr())
	var faultErr error
	fault := func(bool) { faultErr = carrier.cmd.Process.Signal(syscall.SIGSTOP) }
	failed := 0
	onset, err := s.slots(ctx, fault, func(n int, on bool) error {
		if faultErr != nil {
			return fmt.Errorf("hanging the carrier's DNS: %w", faultErr)
		}
		lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, lerr := res.LookupNetIP(lctx, "ip4", name)
		cancel()
		if lerr != nil {
			if !on {
				return fmt.Errorf("lookup %s before the onset: %w", name, lerr)
			}
			failed++
			return nil // no rate quote: the order waits
		}
		_, _, err := send(ctx, client, http.MethodPost, api, "/v1/rates", map[string]string{"User-Agent": "shipping/3.2"}, map[string]any{"to": names[n%len(names)], "kg": 1.5})
		return err
	})
	if err == nil && failed != incidentSlots-incidentOnset {
		err = fmt.Errorf("%d lookups failed, want every one after the onset", failed)
	}
	return GroundTruth{
		Description: "shipping (10.0.0.5) resolves api.carrier.example (Go's resolver) through the cluster resolver (10.0.0.2:53, unbound), which forwards the carrier's zone to the carrier's DNS server (unbound, outside the cluster and the capture). From the onset the carrier's server hangs: unbound times out on it (~0.7s, six tries) and answers SERVFAIL, then SERVFAIL at once while it holds the server down; no rate request reaches the carrier.",
		Kind:        "errors", RootCause: clusterDNSAt.String(), Onset: onset,
		Evidence: Evidence{Method: "A", Path: "api.carrier.example", Status: 2, BodyContains: "SERVFAIL"},
	}, err
}
