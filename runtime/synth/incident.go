package synth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"time"
)

// ErrUnknownIncident is returned by Incident for a scenario name it does
// not know; IncidentNames lists the known ones.
var ErrUnknownIncident = errors.New("synth: unknown incident scenario")

// Evidence is the call that shows an incident: what an investigation must
// be able to open and quote.
type Evidence struct {
	// Method and Path are the call's request line (Path without the query
	// string); for DNS, Method is the query type and Path the name.
	Method string `json:"method"`
	Path   string `json:"path"`
	// Status is the response status (HTTP status, DNS rcode).
	Status int `json:"status"`
	// BodyContains is a substring of the response body (or, for DNS, of
	// the answer's status text) that explains the failure.
	BodyContains string `json:"body_contains"`
}

// GroundTruth is what an investigation of an incident capture should find.
// It is written beside the capture so that a benchmark can score an
// investigation without judging prose.
type GroundTruth struct {
	// Scenario is the name given to Incident.
	Scenario string `json:"scenario"`
	// Description says what happened, in a sentence.
	Description string `json:"description"`
	// Kind is how the incident shows: "errors" (a dependency failing),
	// "latency" (a dependency slowing down), "sensitive_data" (secrets in
	// payloads) or "unauthenticated" (a protected endpoint called without
	// credentials).
	Kind string `json:"kind"`
	// RootCause is the entity at fault, as ip:port of the server in the
	// capture.
	RootCause string `json:"root_cause"`
	// Onset is the capture time the incident began: the first call sent
	// after the fault was switched on.
	Onset time.Time `json:"onset"`
	// Evidence is the failing call.
	Evidence Evidence `json:"evidence"`
	// Start and End are the times of the capture's first and last frames.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Conns and Packets count what the capture holds.
	Conns   int `json:"conns"`
	Packets int `json:"packets"`
}

// IncidentOptions configures Incident. The zero value is usable.
type IncidentOptions struct {
	// Start is the capture time of the first frame; zero means the current
	// time. The onset is 30s after it in every scenario.
	Start time.Time
	// Logger receives relay errors; nil discards them.
	Logger *slog.Logger
}

// incidentDef is one scenario of the library.
type incidentDef struct {
	summary string
	run     func(ctx context.Context, s *stage) (GroundTruth, error)
}

// incidents is the library; cascade is written by Cascade and listed here
// so the library names every incident in one place.
var incidents = map[string]incidentDef{
	"proxy":   {summary: "gateway (Go reverse proxy) → inventory; inventory starts answering 503 with a JSON error", run: runProxy},
	"slow-db": {summary: "reports API (Go net/http, pgx) → PostgreSQL; a migration drops the index its query needs and each query slows from under 1ms to ~0.6s", run: runSlowDB},
	"retry-storm": {summary: "a deploy of api 2.0 retries token checks without backoff; auth sheds them with 503, api answers 503",
		run: runRetryStorm},
	"card-leak": {summary: "a deploy of the wallet service stops masking card numbers in its responses", run: runCardLeak},
	"admin-noauth": {summary: "an admin export endpoint, always called with a bearer token, is called without one and answers 200",
		run: runAdminNoAuth},
	"grpc-unavailable": {summary: "checkout → stock over gRPC (h2c); stock starts answering grpc-status 14 UNAVAILABLE",
		run: runGRPCUnavailable},
	"grpc-deadline": {summary: "checkout → pricing over gRPC (h2c) with a 250ms deadline; pricing's queries outlast it and it answers grpc-status 4 DEADLINE_EXCEEDED",
		run: runGRPCDeadline},
	"redis-latency": {summary: "leaderboard API → redis-server; its ranking script (EVAL) slows from under 1ms to ~600ms",
		run: runRedisLatency},
	"packet-loss": {summary: "web → quotes over a veth link between two network namespaces; the link starts dropping 25% of the packets each way (needs root)",
		run: runPacketLoss},
	"tls-expired": {summary: "web → payments over HTTPS (TLS 1.2); payments' certificate expires and web's TLS client refuses it with a certificate alert",
		run: runTLSExpired},
	"dns-nxdomain": {summary: "checkout (Go resolver) → cluster resolver (unbound); a service record is removed and unbound answers NXDOMAIN: the lookups fail",
		run: runDNSNXDomain},
	"dns-timeout": {summary: "shipping (Go resolver) → cluster resolver (unbound) → the carrier.s DNS (unbound); the carrier.s server hangs, unbound times out and answers SERVFAIL",
		run: runDNSTimeout},
}

// IncidentNames lists the incident scenarios Incident writes, sorted, with
// a one-line summary each.
func IncidentNames() map[string]string {
	out := make(map[string]string, len(incidents))
	for n, d := range incidents {
		out[n] = d.summary
	}
	return out
}

// SortedIncidentNames is IncidentNames' keys in order.
func SortedIncidentNames() []string {
	var names []string
	for n := range incidents {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Incident writes to w the capture of the named incident scenario and
// returns its ground truth. Every scenario is real servers and clients
// (net/http, a Go reverse proxy, Go's resolver and pgx; Debian's
// redis-server, PostgreSQL and unbound) on loopback recorded through
// relays, on a virtual clock as Cascade is: the same options give the
// same time line on any machine. The fault switches on 30s after the
// start, and the capture ends 60s after it. A scenario whose program is
// not installed returns ErrMissingTool.
func Incident(ctx context.Context, w io.Writer, name string, opts IncidentOptions) (GroundTruth, error) {
	def, ok := incidents[name]
	if !ok {
		return GroundTruth{}, fmt.Errorf("%w %q", ErrUnknownIncident, name)
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now().Round(0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	pw, err := NewWriter(w)
	if err != nil {
		return GroundTruth{}, err
	}
	s := &stage{clock: &simClock{now: opts.Start}, pw: pw, log: opts.Logger, start: opts.Start}
	gt, runErr := def.run(ctx, s)
	s.stop()
	if runErr == nil {
		runErr = s.errs.get()
	}
	gt.Scenario, gt.Start, gt.End = name, opts.Start, s.clock.Now()
	if gt.Description == "" {
		gt.Description = def.summary
	}
	for _, t := range s.tiers {
		gt.Conns += t.relay.Conns()
	}
	gt.Conns += s.udpConns
	gt.Packets = pw.Packets()
	if err := pw.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return gt, fmt.Errorf("synth: incident %s: %w", name, runErr)
	}
	return gt, ctx.Err()
}

// The time line every incident shares: 60 one-second slots, the fault
// switching on at slot 30.
const (
	incidentSlots = 60
	incidentOnset = 30
)

// stage is one incident run: the clock, the services and the relays that
// record them.
type stage struct {
	clock    *simClock
	pw       *Writer
	log      *slog.Logger
	start    time.Time
	errs     firstError
	servers  []*http.Server
	tiers    []tier
	closers  []func()
	udpConns int
}

// serve starts h on loopback behind a relay that records it at svc.addr,
// called from callerIP, and returns the client the caller uses.
func (s *stage) serve(svc *service, callerIP string, h http.Handler) (*http.Client, error) {
	return s.serveProto(svc, callerIP, h, false)
}

// serveProto is serve, speaking HTTP/2 without TLS (h2c, as gRPC does
// inside a cluster) on both sides if h2c is set.
func (s *stage) serveProto(svc *service, callerIP string, h http.Handler, h2c bool) (*http.Client, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for %s: %w", svc.name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if h2c {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	s.servers = append(s.servers, srv)
	go srv.Serve(ln)
	r, err := NewRelay(ln.Addr().String(), s.pw, RelayOptions{Server: svc.addr, Client: netip.MustParseAddr(callerIP), Clock: s.clock.Now, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("relay for %s: %w", svc.name, err)
	}
	caller := httpClient()
	if h2c {
		tr := caller.Transport.(*http.Transport)
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	s.tiers = append(s.tiers, tier{r, caller})
	svc.base = "http://" + r.Addr()
	return caller, nil
}

// stop closes callers top-down (the last served first), as Cascade does,
// so the capture ends with orderly closes in a fixed order.
func (s *stage) stop() {
	for i := len(s.tiers) - 1; i >= 0; i-- {
		s.tiers[i].caller.CloseIdleConnections()
		waitIdle(s.tiers[i].relay)
	}
	for _, t := range s.tiers {
		t.relay.Close()
	}
	for _, srv := range s.servers {
		srv.Close()
	}
	for _, c := range s.closers {
		c()
	}
}

// slots runs f once per one-second slot, passing whether the fault is on;
// it returns the onset time (the start of the first faulty slot).
func (s *stage) slots(ctx context.Context, fault func(on bool), f func(n int, on bool) error) (time.Time, error) {
	var onset time.Time
	for n := range incidentSlots {
		s.clock.SleepUntil(s.start.Add(time.Duration(n) * time.Second))
		on := n >= incidentOnset
		if n == incidentOnset {
			onset = s.clock.Now()
			fault(true)
		}
		if err := ctx.Err(); err != nil {
			return onset, err
		}
		if err := f(n, on); err != nil {
			return onset, err
		}
	}
	s.clock.SleepUntil(s.start.Add(incidentSlots * time.Second))
	return onset, nil
}

// pause spends reading time between a user's requests.
func (s *stage) pause(n, k int) {
	s.clock.Sleep(40*time.Millisecond + jitter(n*3+k, 30*time.Millisecond))
}

// CascadeTruth is the ground truth of a Cascade run, from what the run
// reports: payments is the root cause from the failure onset, and its 503
// with the provider timeout is the evidence. A run without failures has
// none: the zero GroundTruth.
func CascadeTruth(st CascadeStats) GroundTruth {
	if st.FailureOnset.IsZero() {
		return GroundTruth{}
	}
	return GroundTruth{
		Scenario:    "cascade",
		Description: "frontend (10.0.0.10:8080) → orders (10.0.0.20:8080) → payments (10.0.0.30:8080). From the onset payments answers 503 UPSTREAM_TIMEOUT; orders retries once and answers 502, frontend 500.",
		Kind:        "errors", RootCause: st.Payments.Addr.String(), Onset: st.FailureOnset,
		Evidence: Evidence{Method: http.MethodPost, Path: "/api/payments/charge", Status: http.StatusServiceUnavailable, BodyContains: "UPSTREAM_TIMEOUT"},
		Start:    st.Start, End: st.End, Conns: st.Conns, Packets: st.Packets,
	}
}
