package synth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a cluster DNS on loopback UDP, written with dnsmessage. It
// records each query and answer as it handles them, as a capture on the
// DNS host would: from the client's address in the capture to its own.
type dnsServer struct {
	pc      net.PacketConn
	addr    netip.AddrPort // in the capture
	client  netip.Addr
	clock   *simClock
	pw      *Writer
	records map[string]netip.Addr
	nx      atomic.Bool // answer NXDOMAIN for every name
	errs    *firstError

	mu      sync.Mutex
	queries int
	done    chan struct{}
}

func (d *dnsServer) serve() {
	defer close(d.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := d.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		d.mu.Lock()
		src := netip.AddrPortFrom(d.client, uint16(40000+d.queries%20000))
		d.queries++
		d.mu.Unlock()
		q := append([]byte(nil), buf[:n]...)
		if err := d.pw.UDP(src, d.addr, q, d.clock.Now()); err != nil {
			d.errs.set(err)
		}
		resp, err := d.answer(q)
		if err != nil {
			d.errs.set(fmt.Errorf("dns server: %w", err))
			continue
		}
		d.clock.Sleep(300 * time.Microsecond)
		if err := d.pw.UDP(d.addr, src, resp, d.clock.Now()); err != nil {
			d.errs.set(err)
		}
		d.pc.WriteTo(resp, from)
	}
}

// answer builds the reply to one query: the A record it holds, or
// NXDOMAIN once the fault is on (a zone that lost its records).
func (d *dnsServer) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RCode: dnsmessage.RCodeSuccess}
	ip, ok := d.records[q.Name.String()]
	if d.nx.Load() || !ok {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if rh.RCode == dnsmessage.RCodeSuccess && q.Type == dnsmessage.TypeA {
		if err := b.StartAnswers(); err != nil {
			return nil, err
		}
		if err := b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}, dnsmessage.AResource{A: ip.As4()}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// lookupA is a stub resolver's query: one A question with recursion
// desired, over UDP, and the answer's rcode. It numbers its queries from
// id instead of drawing them at random, as Go's resolver does, so that
// every run writes the same capture.
func lookupA(conn net.Conn, id uint16, name string) (dnsmessage.RCode, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return 0, err
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}); err != nil {
		return 0, err
	}
	q, err := b.Finish()
	if err != nil {
		return 0, err
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(q); err != nil {
		return 0, err
	}
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		return 0, err
	}
	var p dnsmessage.Parser
	h, err := p.Start(buf[:n])
	if err != nil {
		return 0, err
	}
	if h.ID != id || !h.Response {
		return 0, fmt.Errorf("answer id %d to query %d", h.ID, id)
	}
	return h.RCode, nil
}

// runDNSNXDomain: a client looks up payments against the cluster DNS
// before every charge; from the onset the DNS
// answers NXDOMAIN (the service's records are gone), so the lookups fail
// and the charges stop.
func runDNSNXDomain(ctx context.Context, s *stage) (GroundTruth, error) {
	pay := newService("payments", "10.0.0.30:8080")
	const name = "payments.shop.svc.cluster.local."
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return GroundTruth{}, fmt.Errorf("dns server: %w", err)
	}
	d := &dnsServer{pc: pc, addr: netip.MustParseAddrPort("10.0.0.2:53"), client: netip.MustParseAddr(incClientIP), clock: s.clock, pw: s.pw,
		records: map[string]netip.Addr{name: pay.addr.Addr()}, errs: &s.errs, done: make(chan struct{})}
	go d.serve()
	s.closers = append(s.closers, func() { pc.Close(); <-d.done })

	mux := http.NewServeMux()
	pay.handle(s.clock, mux, "POST /api/charges/{customer}", func(w http.ResponseWriter, r *http.Request) {
		s.clock.Sleep(7 * time.Millisecond)
		writeJSON(w, http.StatusCreated, map[string]any{"customer": r.PathValue("customer"), "status": "captured"})
	})
	client, err := s.serve(pay, incClientIP, mux)
	if err != nil {
		return GroundTruth{}, err
	}
	conn, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		return GroundTruth{}, fmt.Errorf("dns client: %w", err)
	}
	defer conn.Close()
	failed := 0
	onset, err := s.slots(ctx, d.nx.Store, func(n int, on bool) error {
		for k := range 2 {
			if k > 0 {
				s.pause(n, k)
			}
			rcode, lerr := lookupA(conn, uint16(2*n+k+1), name)
			switch {
			case lerr != nil:
				return fmt.Errorf("lookup %s: %w", name, lerr)
			case rcode == dnsmessage.RCodeNameError:
				failed++
				continue // the checkout fails before it reaches payments
			case rcode != dnsmessage.RCodeSuccess:
				return fmt.Errorf("lookup %s: %v", name, rcode)
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
		Description: "checkout (10.0.0.5) resolves payments.shop.svc.cluster.local (a stub resolver's A query over UDP) against the cluster DNS (10.0.0.2:53, a Go server) before each charge. From the onset the DNS answers NXDOMAIN: every lookup fails and no charge reaches payments.",
		Kind:        "errors", RootCause: d.addr.String(), Onset: onset,
		Evidence: Evidence{Method: "A", Path: "payments.shop.svc.cluster.local", Status: int(dnsmessage.RCodeNameError), BodyContains: "NXDOMAIN"},
	}, err
}
