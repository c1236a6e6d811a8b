package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// CascadeOptions configures Cascade. The zero value gives the default
// scenario: 60 checkouts half a second apart, payments failing from the
// 31st on.
type CascadeOptions struct {
	// Checkouts is how many GET /checkout/{n} the client sends; zero means
	// 60.
	Checkouts int
	// FailAfter is how many checkouts succeed before payments starts
	// failing; zero means Checkouts/2, and Checkouts or more gives a run
	// without failures.
	FailAfter int
	// Start is the capture time of the first frame; zero means the current
	// time.
	Start time.Time
	// Interval is the capture time from one checkout to the next; zero
	// means 1s. The catalog and health requests fall in between. An
	// iteration that runs longer is followed at once by the next.
	Interval time.Duration
	// Logger receives relay errors; nil discards them.
	Logger *slog.Logger
}

// ServiceStats is what one service of the cascade answered, counted by the
// service itself as it replied.
type ServiceStats struct {
	// Addr is the service's address in the capture.
	Addr netip.AddrPort
	// Requests is the number of requests answered, Statuses their count by
	// status code.
	Requests int
	Statuses map[int]int
	// Endpoints breaks Statuses down by the route pattern the service
	// registered, such as "POST /api/orders" or "GET /checkout/{n}", so
	// per-endpoint error rates can be checked.
	Endpoints map[string]map[int]int
	// FirstError is the capture time of the service's first 5xx response,
	// zero if it had none: payments answers 503, orders 502, frontend 500.
	FirstError time.Time
}

// CascadeStats describes the capture Cascade wrote. All times are capture
// times, equal to the timestamps of the frames they describe.
type CascadeStats struct {
	// Client is the address of the client that calls the frontend.
	Client netip.Addr
	// Frontend, Orders and Payments are the three tiers, top down.
	Frontend, Orders, Payments ServiceStats
	// Start and End are the times of the first and last frames.
	Start, End time.Time
	// FailureOnset is when payments began failing: the time the first
	// failing checkout was sent. Every exchange before it succeeded, every
	// checkout at or after it failed. Zero for a run without failures.
	FailureOnset time.Time
	// Conns is the number of TCP connections; Packets the frames written.
	Conns, Packets int
}

// Addresses of the cascade's hosts in the capture. Each tier calls the next
// from its own address, so the conversations chain 10.0.0.5 → .10 → .20 →
// .30.
const (
	cascadeClientIP   = "10.0.0.5"
	cascadeFrontendAt = "10.0.0.10:8080"
	cascadeOrdersAt   = "10.0.0.20:8080"
	cascadePaymentsAt = "10.0.0.30:8080"
)

// Cascade writes to w a capture of a three-tier shop made of real net/http
// servers and clients on loopback, each recorded through a Relay so every
// service has its own address: a client (10.0.0.5) calls frontend
// (10.0.0.10:8080) for GET /checkout/{n}, GET /api/catalog?page=n and
// GET /health; a checkout makes frontend POST /api/orders and then GET
// /api/orders/{id} on orders (10.0.0.20:8080), and creating an order makes
// orders POST /api/payments/charge on payments (10.0.0.30:8080).
//
// The first opts.FailAfter checkouts succeed with small latencies. From then
// on payments answers 503 with {"error":"payment provider timeout",
// "code":"UPSTREAM_TIMEOUT"} after a quarter of a second, orders retries
// once after 50ms and then passes it on as 502 {"error":"payments unavailable"} and frontend as 500, while
// catalog and health keep answering 200. Each tier replies after its
// dependency, so the first 503 precedes the first 502, which precedes the
// first 500.
//
// Timestamps come from a virtual clock that starts at opts.Start, stands
// still while bytes cross loopback and moves only when a service or the
// client spends time (service latencies, the client's pacing). The time
// line is therefore the same on any machine and for any run with the same
// options, and a run of simulated minutes takes well under a second. The
// capture ends at Start + Checkouts×Interval (later only if iterations
// overrun the interval), so with the default FailAfter and an even number
// of checkouts the failure onset is its midpoint.
func Cascade(ctx context.Context, w io.Writer, opts CascadeOptions) (CascadeStats, error) {
	if opts.Checkouts < 0 || opts.FailAfter < 0 || opts.Interval < 0 {
		return CascadeStats{}, fmt.Errorf("synth: cascade: negative option: %d checkouts, failing after %d, interval %v", opts.Checkouts, opts.FailAfter, opts.Interval)
	}
	if opts.Checkouts == 0 {
		opts.Checkouts = 60
	}
	if opts.FailAfter == 0 {
		opts.FailAfter = opts.Checkouts / 2
	}
	if opts.Interval == 0 {
		opts.Interval = time.Second
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now().Round(0) // a capture time has no monotonic reading
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	pw, err := NewWriter(w)
	if err != nil {
		return CascadeStats{}, err
	}
	c := &cascade{
		clock:    &simClock{now: opts.Start},
		front:    newService("frontend", cascadeFrontendAt),
		ord:      newService("orders", cascadeOrdersAt),
		pay:      newService("payments", cascadePaymentsAt),
		log:      opts.Logger,
		client:   httpClient(),
		toOrders: httpClient(),
		toPays:   httpClient(),
	}
	st := CascadeStats{Client: netip.MustParseAddr(cascadeClientIP), Start: opts.Start}
	runErr := c.start(pw)
	if runErr == nil {
		runErr = c.drive(ctx, opts, &st)
	}
	c.stop()
	if runErr == nil {
		runErr = c.errs.get()
	}
	st.Frontend, st.Orders, st.Payments = c.front.snapshot(), c.ord.snapshot(), c.pay.snapshot()
	st.End = c.clock.Now()
	for _, t := range c.tiers {
		st.Conns += t.relay.Conns()
	}
	st.Packets = pw.Packets()
	if err := pw.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	return st, runErr
}

// cascade is one run: the clock, the three services and what carries
// traffic between them.
type cascade struct {
	clock            *simClock
	front, ord, pay  *service
	failing          atomic.Bool // payments' fault, switched on by the driver
	orders           orderBook
	errs             firstError
	log              *slog.Logger
	servers          []*http.Server
	tiers            []tier       // bottom-up, in the order started
	client           *http.Client // the end user's
	toOrders, toPays *http.Client // frontend's and orders' outbound clients
}

// tier is a service's relay and the one client that calls through it, whose
// idle connection stop closes.
type tier struct {
	relay  *Relay
	caller *http.Client
}

// start brings the tiers up bottom-up, since each needs the relay address
// of the one below it.
func (c *cascade) start(pw *Writer) error {
	if err := c.serve(pw, c.pay, c.ord.addr.Addr(), c.toPays, c.paymentsHandler()); err != nil {
		return err
	}
	if err := c.serve(pw, c.ord, c.front.addr.Addr(), c.toOrders, c.ordersHandler()); err != nil {
		return err
	}
	return c.serve(pw, c.front, netip.MustParseAddr(cascadeClientIP), c.client, c.frontendHandler())
}

// serve starts s on loopback behind a relay that records it at s.addr,
// called by caller from callerIP.
func (c *cascade) serve(pw *Writer, s *service, callerIP netip.Addr, caller *http.Client, h http.Handler) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("synth: cascade: listening for %s: %w", s.name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	c.servers = append(c.servers, srv)
	go srv.Serve(ln)
	r, err := NewRelay(ln.Addr().String(), pw, RelayOptions{Server: s.addr, Client: callerIP, Clock: c.clock.Now, Logger: c.log})
	if err != nil {
		return fmt.Errorf("synth: cascade: relay for %s: %w", s.name, err)
	}
	c.tiers = append(c.tiers, tier{r, caller})
	s.base = "http://" + r.Addr()
	return nil
}

func httpClient() *http.Client {
	tr := &http.Transport{
		MaxIdleConnsPerHost: 4,
		DisableCompression:  true, // no Accept-Encoding the services would ignore
		IdleConnTimeout:     time.Minute,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// stop shuts the tiers down top-down: each caller closes its idle
// keep-alive connection and the relay records the FIN exchange before the
// next tier's turn, so the capture ends with orderly closes in a fixed
// order.
func (c *cascade) stop() {
	for i := len(c.tiers) - 1; i >= 0; i-- {
		c.tiers[i].caller.CloseIdleConnections()
		waitIdle(c.tiers[i].relay)
	}
	for _, t := range c.tiers {
		t.relay.Close()
	}
	for _, s := range c.servers {
		s.Close()
	}
}

// drive is the end user: one iteration per checkout, each starting
// Interval after the previous one, with a catalog page after every checkout
// and a health check after every fifth.
func (c *cascade) drive(ctx context.Context, opts CascadeOptions, st *CascadeStats) error {
	for n := range opts.Checkouts {
		c.clock.SleepUntil(opts.Start.Add(time.Duration(n) * opts.Interval))
		if n == opts.FailAfter {
			st.FailureOnset = c.clock.Now()
			c.failing.Store(true)
		}
		reqID := fmt.Sprintf("req-%05d", n+1)
		steps := []string{fmt.Sprintf("/checkout/%d", 1000+n)}
		steps = append(steps, fmt.Sprintf("/api/catalog?page=%d", n%5+1))
		if n%5 == 0 {
			steps = append(steps, "/health")
		}
		for k, path := range steps {
			if k > 0 {
				c.clock.Sleep(40*time.Millisecond + jitter(n*3+k, 30*time.Millisecond)) // reading the page
			}
			_, _, err := call(ctx, c.client, http.MethodGet, c.front, path, reqID, "shop-web/3.2 (e2e)", nil)
			if err != nil {
				return err
			}
		}
	}
	// The capture runs to the end of the last iteration's slot, so with the
	// default FailAfter the onset is its midpoint.
	c.clock.SleepUntil(opts.Start.Add(time.Duration(opts.Checkouts) * opts.Interval))
	return ctx.Err()
}

// frontendHandler serves the shop's public API.
func (c *cascade) frontendHandler() http.Handler {
	s, mux := c.front, http.NewServeMux()
	const ua = "frontend/1.8.2"
	s.handle(c.clock, mux, "GET /health", func(w http.ResponseWriter, r *http.Request) {
		c.clock.Sleep(200 * time.Microsecond)
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "version": "1.8.2"})
	})
	s.handle(c.clock, mux, "GET /api/catalog", func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		c.clock.Sleep(3*time.Millisecond + jitter(page, 2*time.Millisecond))
		items := make([]map[string]any, 0, 8)
		for k := range 8 {
			sku := page*100 + k
			items = append(items, map[string]any{"sku": fmt.Sprintf("SKU-%05d", sku), "name": fmt.Sprintf("item %d", sku), "price": float64(500+sku%37*25) / 100})
		}
		writeJSON(w, http.StatusOK, map[string]any{"page": page, "per_page": 8, "items": items})
	})
	s.handle(c.clock, mux, "GET /checkout/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		reqID := r.Header.Get("X-Request-Id")
		c.clock.Sleep(600*time.Microsecond + jitter(n, 500*time.Microsecond)) // session and cart lookup
		cart := map[string]any{
			"cart_id": fmt.Sprintf("cart-%d", n), "customer_id": fmt.Sprintf("cus-%04d", n%40), "currency": "EUR",
			"items": []map[string]any{{"sku": fmt.Sprintf("SKU-%05d", n%300), "qty": n%3 + 1, "price": 12.5}},
		}
		status, body, err := call(r.Context(), c.toOrders, http.MethodPost, c.ord, "/api/orders", reqID, ua, cart)
		if err != nil {
			c.errs.set(err)
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "checkout failed", "request_id": reqID})
			return
		}
		if status != http.StatusCreated {
			c.clock.Sleep(300 * time.Microsecond)
			writeJSON(w, http.StatusInternalServerError, map[string]any{
				"error": "checkout failed", "cause": fmt.Sprintf("orders answered %d", status), "request_id": reqID,
			})
			return
		}
		var created struct {
			ID int `json:"id"`
		}
		if err := json.Unmarshal(body, &created); err != nil {
			c.errs.set(fmt.Errorf("synth: cascade: order created for %s: %w", reqID, err))
		}
		c.clock.Sleep(300 * time.Microsecond)
		status, body, err = call(r.Context(), c.toOrders, http.MethodGet, c.ord, fmt.Sprintf("/api/orders/%d", created.ID), reqID, ua, nil)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("synth: cascade: GET /api/orders/%d for %s: status %d", created.ID, reqID, status)
		}
		if err != nil {
			c.errs.set(err)
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "checkout failed", "request_id": reqID})
			return
		}
		c.clock.Sleep(500 * time.Microsecond) // rendering the confirmation
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, `{"confirmation":"CONF-%d","order":%s}`+"\n", n, bytes.TrimSpace(body))
	})
	return mux
}

// ordersHandler serves orders: creating one charges it through payments.
func (c *cascade) ordersHandler() http.Handler {
	s, mux := c.ord, http.NewServeMux()
	s.handle(c.clock, mux, "POST /api/orders", func(w http.ResponseWriter, r *http.Request) {
		reqID := r.Header.Get("X-Request-Id")
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "bad order: " + err.Error()})
			return
		}
		id := c.orders.add(in, c.clock.Now())
		c.clock.Sleep(2*time.Millisecond + jitter(id, 1500*time.Microsecond)) // the insert
		charge := map[string]any{"order_id": id, "amount": 12.5, "currency": in["currency"], "card_token": fmt.Sprintf("tok_%06x", id*7919)}
		// Like most clients, orders retries a 503 once after a short
		// backoff, so an outage hits payments with twice the calls the
		// callers see fail: the dependency carries the most errors.
		status, body, err := call(r.Context(), c.toPays, http.MethodPost, c.pay, "/api/payments/charge", reqID, "orders/2.4.0", charge)
		if err == nil && status == http.StatusServiceUnavailable {
			c.clock.Sleep(50 * time.Millisecond)
			status, body, err = call(r.Context(), c.toPays, http.MethodPost, c.pay, "/api/payments/charge", reqID, "orders/2.4.0", charge)
		}
		if err != nil {
			c.errs.set(err)
			writeJSON(w, http.StatusBadGateway, map[string]any{"error": "payments unavailable"})
			return
		}
		if status != http.StatusOK {
			c.clock.Sleep(400 * time.Microsecond)
			writeJSON(w, http.StatusBadGateway, map[string]any{"error": "payments unavailable"})
			return
		}
		var ch struct {
			ChargeID string `json:"charge_id"`
		}
		json.Unmarshal(body, &ch)
		order := c.orders.pay(id, ch.ChargeID)
		c.clock.Sleep(time.Millisecond)
		w.Header().Set("Location", fmt.Sprintf("/api/orders/%d", id))
		writeJSON(w, http.StatusCreated, order)
	})
	s.handle(c.clock, mux, "GET /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		c.clock.Sleep(time.Millisecond + jitter(id, 800*time.Microsecond))
		order, ok := c.orders.get(id)
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such order", "id": id})
			return
		}
		writeJSON(w, http.StatusOK, order)
	})
	return mux
}

// paymentsHandler serves charges, answering 503 after a provider timeout
// once the driver has switched the fault on.
func (c *cascade) paymentsHandler() http.Handler {
	s, mux := c.pay, http.NewServeMux()
	s.handle(c.clock, mux, "POST /api/payments/charge", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			OrderID int     `json:"order_id"`
			Amount  float64 `json:"amount"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "bad charge: " + err.Error()})
			return
		}
		if c.failing.Load() {
			c.clock.Sleep(250*time.Millisecond + jitter(in.OrderID, 50*time.Millisecond))
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "payment provider timeout", "code": "UPSTREAM_TIMEOUT"})
			return
		}
		c.clock.Sleep(8*time.Millisecond + jitter(in.OrderID, 7*time.Millisecond))
		writeJSON(w, http.StatusOK, map[string]any{
			"charge_id": fmt.Sprintf("ch_%08x", uint32(in.OrderID)*2654435761), "status": "captured", "amount": in.Amount,
		})
	})
	return mux
}

// call sends one request to a tier's relay under the tier's own host name
// and returns the status and the whole body: reading it to the end is what
// hands the keep-alive connection back for the next request.
func call(ctx context.Context, c *http.Client, method string, to *service, path, reqID, userAgent string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("synth: cascade: encoding %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, to.base+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("synth: cascade: %s %s%s: %w", method, to.host, path, err)
	}
	req.Host = to.host
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Request-Id", reqID)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("synth: cascade: %s %s%s: %w", method, to.host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("synth: cascade: reading %s %s%s: %w", method, to.host, path, err)
	}
	return resp.StatusCode, b, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// jitter is a deterministic spread in [0, max) keyed by n, so latencies
// vary like real ones while every run records the same time line.
func jitter(n int, max time.Duration) time.Duration {
	h := uint64(n+1) * 0x9e3779b97f4a7c15
	return time.Duration((h >> 11) % uint64(max))
}

// service is one tier: where it is in the capture, where its relay listens,
// and what it answered.
type service struct {
	name string
	host string // what callers put in the Host header, as cluster DNS reads
	addr netip.AddrPort
	base string // "http://" + its relay's loopback address

	mu sync.Mutex
	st ServiceStats
}

func newService(name, addr string) *service {
	ap := netip.MustParseAddrPort(addr)
	return &service{name: name, host: fmt.Sprintf("%s:%d", name, ap.Port()), addr: ap, st: ServiceStats{Addr: ap, Statuses: map[int]int{}, Endpoints: map[string]map[int]int{}}}
}

// handle registers h under pattern, counting its status and dating its
// response by the virtual clock: net/http would otherwise write the real
// date into a capture that says otherwise.
func (s *service) handle(clock *simClock, mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, clock: clock}
		h(sw, r)
		s.record(pattern, sw.status, sw.at)
	})
}

func (s *service) record(pattern string, status int, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Requests++
	s.st.Statuses[status]++
	if s.st.Endpoints[pattern] == nil {
		s.st.Endpoints[pattern] = map[int]int{}
	}
	s.st.Endpoints[pattern][status]++
	if status >= 500 && s.st.FirstError.IsZero() {
		s.st.FirstError = at
	}
}

// snapshot copies the stats, so the caller's maps are its own.
func (s *service) snapshot() ServiceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Statuses = maps.Clone(s.st.Statuses)
	st.Endpoints = make(map[string]map[int]int, len(s.st.Endpoints))
	for p, m := range s.st.Endpoints {
		st.Endpoints[p] = maps.Clone(m)
	}
	return st
}

// statusWriter notes the status and the time a response was written. The
// virtual clock stands still until the caller has the response, so that time
// is the response frame's timestamp.
type statusWriter struct {
	http.ResponseWriter
	clock  *simClock
	status int
	at     time.Time
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status, w.at = code, w.clock.Now()
		w.Header().Set("Date", w.at.UTC().Format(http.TimeFormat))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// simClock is the capture's time line. It moves only when told to, and
// only one party moves it at a time (the request chain is sequential), so
// every frame's timestamp follows from the scenario alone.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now is the current capture time.
func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep spends d of capture time, instead of real time.
func (c *simClock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// SleepUntil moves the clock to t unless it is already past it.
func (c *simClock) SleepUntil(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

// orderBook is orders' storage.
type orderBook struct {
	mu     sync.Mutex
	next   int
	orders map[int]map[string]any
}

func (b *orderBook) add(in map[string]any, at time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.orders == nil {
		b.orders, b.next = map[int]map[string]any{}, 50000
	}
	b.next++
	o := map[string]any{"id": b.next, "status": "pending", "created": at.UTC().Format(time.RFC3339Nano), "cart_id": in["cart_id"], "customer_id": in["customer_id"], "items": in["items"]}
	b.orders[b.next] = o
	return b.next
}

func (b *orderBook) pay(id int, chargeID string) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	o := b.orders[id]
	o["status"], o["charge_id"] = "paid", chargeID
	return maps.Clone(o)
}

func (b *orderBook) get(id int) (map[string]any, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.orders[id]
	return maps.Clone(o), ok
}

// firstError keeps the first unexpected failure inside a handler, which
// would otherwise only show as a 5xx that the scenario did not intend.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (e *firstError) set(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil && !errors.Is(err, context.Canceled) {
		e.err = err
	}
}

func (e *firstError) get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}
