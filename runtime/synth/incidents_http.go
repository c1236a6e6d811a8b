package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// Addresses shared by the incident scenarios: the user's client and the
// front service every scenario has.
const (
	incClientIP = "10.0.0.5"
	incFrontIP  = "10.0.0.10"
	incFrontAt  = "10.0.0.10:8080"
)

// names are the identifiers that appear in paths: words, not numbers, so
// that only learning templates from the traffic groups them.
var names = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj"}

// send is one HTTP exchange from a real client: the status and the whole
// body, read to the end so the keep-alive connection is reused.
func send(ctx context.Context, c *http.Client, method string, to *service, path string, hdr map[string]string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, to.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Host = to.host
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s%s: %w", method, to.host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("reading %s %s%s: %w", method, to.host, path, err)
	}
	return resp.StatusCode, b, nil
}

// health registers the GET /health every front service answers.
func health(clock *simClock, s *service, mux *http.ServeMux, version string) {
	s.handle(clock, mux, "GET /health", func(w http.ResponseWriter, r *http.Request) {
		clock.Sleep(200 * time.Microsecond)
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "version": version})
	})
}

// runProxy: client → gateway (httputil.ReverseProxy) → inventory. From
// the onset inventory answers 503 with a JSON error, which the proxy
// passes on unchanged.
func runProxy(ctx context.Context, s *stage) (GroundTruth, error) {
	inv, gw := newService("inventory", "10.0.0.40:8080"), newService("gateway", incFrontAt)
	var failing atomic.Bool
	imux := http.NewServeMux()
	inv.handle(s.clock, imux, "GET /api/items/{sku}", func(w http.ResponseWriter, r *http.Request) {
		sku := r.PathValue("sku")
		if failing.Load() {
			s.clock.Sleep(30*time.Millisecond + jitter(len(sku), 10*time.Millisecond))
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "inventory database connection pool exhausted", "code": "POOL_EXHAUSTED", "retry_after_s": 10})
			return
		}
		s.clock.Sleep(4*time.Millisecond + jitter(len(sku), 3*time.Millisecond))
		writeJSON(w, http.StatusOK, map[string]any{"sku": sku, "in_stock": 3 + len(sku)%7, "warehouse": "fra-1"})
	})
	toInv, err := s.serve(inv, incFrontIP, imux)
	if err != nil {
		return GroundTruth{}, err
	}
	target, err := url.Parse(inv.base)
	if err != nil {
		return GroundTruth{}, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = inv.host
		},
		Transport: toInv.Transport,
	}
	gmux := http.NewServeMux()
	health(s.clock, gw, gmux, "gateway/2.1")
	gw.handle(s.clock, gmux, "/api/", func(w http.ResponseWriter, r *http.Request) {
		s.clock.Sleep(300 * time.Microsecond) // routing and auth
		rp.ServeHTTP(w, r)
	})
	client, err := s.serve(gw, incClientIP, gmux)
	if err != nil {
		return GroundTruth{}, err
	}
	var first string
	onset, err := s.slots(ctx, failing.Store, func(n int, on bool) error {
		sku := "sku-" + names[n%len(names)]
		if on && first == "" {
			first = "/api/items/" + sku
		}
		if _, _, err := send(ctx, client, http.MethodGet, gw, "/api/items/"+sku, map[string]string{"User-Agent": "shop-web/3.2"}, nil); err != nil {
			return err
		}
		if n%5 == 0 {
			s.pause(n, 1)
			_, _, err := send(ctx, client, http.MethodGet, gw, "/health", map[string]string{"User-Agent": "kube-probe/1.31"}, nil)
			return err
		}
		return nil
	})
	return GroundTruth{
		Description: "A Go reverse proxy (gateway, 10.0.0.10:8080) fronts inventory (10.0.0.40:8080). From the onset inventory's database pool is exhausted and it answers every item lookup 503 {\"code\":\"POOL_EXHAUSTED\"}, which the gateway passes on to the shop.",
		Kind:        "errors", RootCause: inv.addr.String(), Onset: onset,
		Evidence: Evidence{Method: http.MethodGet, Path: first, Status: http.StatusServiceUnavailable, BodyContains: "POOL_EXHAUSTED"},
	}, err
}

// runRetryStorm: client → api → auth. At the onset api 2.0.0 is deployed:
// it verifies a token on every call instead of caching it, and retries a
// failed verification four times at once. auth, sized for the old load,
// sheds the storm with 503s, and api answers 503 in turn.
func runRetryStorm(ctx context.Context, s *stage) (GroundTruth, error) {
	auth, api := newService("auth", "10.0.0.60:8080"), newService("api", incFrontAt)
	var deployed atomic.Bool
	var inflight atomic.Int64 // verifications within the current second
	amux := http.NewServeMux()
	auth.handle(s.clock, amux, "POST /v1/token/verify", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if deployed.Load() && inflight.Add(1) > 1 {
			s.clock.Sleep(2 * time.Millisecond)
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "overloaded: verification queue full", "code": "AUTH_OVERLOADED"})
			return
		}
		s.clock.Sleep(6 * time.Millisecond)
		writeJSON(w, http.StatusOK, map[string]any{"active": true, "sub": "svc-web", "scope": "profile:read"})
	})
	toAuth, err := s.serve(auth, incFrontIP, amux)
	if err != nil {
		return GroundTruth{}, err
	}
	pmux := http.NewServeMux()
	health(s.clock, api, pmux, "api/1.9.4")
	cached := 0
	api.handle(s.clock, pmux, "GET /api/profiles/{user}", func(w http.ResponseWriter, r *http.Request) {
		user := r.PathValue("user")
		ua := "api/1.9.4"
		tries := 1
		if deployed.Load() {
			ua, tries = "api/2.0.0", 5
		} else if cached%6 != 0 { // 1.9.4 caches the token for six calls
			cached++
			s.clock.Sleep(time.Millisecond)
			writeJSON(w, http.StatusOK, map[string]any{"user": user, "plan": "pro"})
			return
		}
		cached++
		for k := range tries {
			status, _, err := send(r.Context(), toAuth, http.MethodPost, auth, "/v1/token/verify", map[string]string{"User-Agent": ua}, map[string]any{"token": "opaque-" + user})
			if err != nil {
				s.errs.set(err)
				return
			}
			if status == http.StatusOK {
				s.clock.Sleep(time.Millisecond)
				writeJSON(w, http.StatusOK, map[string]any{"user": user, "plan": "pro"})
				return
			}
			_ = k // no backoff: the bug
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "token verification unavailable"})
	})
	client, err := s.serve(api, incClientIP, pmux)
	if err != nil {
		return GroundTruth{}, err
	}
	onset, err := s.slots(ctx, deployed.Store, func(n int, on bool) error {
		inflight.Store(0) // auth's budget: one verification a second
		for k := range 3 {
			if k > 0 {
				s.pause(n, k)
			}
			if _, _, err := send(ctx, client, http.MethodGet, api, "/api/profiles/"+names[(n*3+k)%len(names)], map[string]string{"User-Agent": "mobile/7.2"}, nil); err != nil {
				return err
			}
		}
		return nil
	})
	return GroundTruth{
		Description: "At the onset api 2.0.0 (10.0.0.10:8080) is deployed: it verifies the token on every call and retries a failed verification four times without backoff. auth (10.0.0.60:8080) gets several times its usual calls, sheds them with 503 AUTH_OVERLOADED, and api answers 503.",
		Kind:        "errors", RootCause: auth.addr.String(), Onset: onset,
		Evidence: Evidence{Method: http.MethodPost, Path: "/v1/token/verify", Status: http.StatusServiceUnavailable, BodyContains: "AUTH_OVERLOADED"},
	}, err
}

// runCardLeak: client → wallet. At the onset a deploy drops the masking of
// card numbers: the response carries the full number next to last4.
func runCardLeak(ctx context.Context, s *stage) (GroundTruth, error) {
	wal := newService("wallet", "10.0.0.70:8080")
	var leaking atomic.Bool
	mux := http.NewServeMux()
	health(s.clock, wal, mux, "wallet/5.3")
	wal.handle(s.clock, mux, "GET /api/wallets/{user}/cards", func(w http.ResponseWriter, r *http.Request) {
		s.clock.Sleep(3 * time.Millisecond)
		card := map[string]any{"brand": "visa", "last4": "4242", "exp": "12/29", "holder": r.PathValue("user")}
		if leaking.Load() {
			card["card_number"] = "4242424242424242"
		}
		writeJSON(w, http.StatusOK, map[string]any{"cards": []any{card}})
	})
	client, err := s.serve(wal, incClientIP, mux)
	if err != nil {
		return GroundTruth{}, err
	}
	var first string
	onset, err := s.slots(ctx, leaking.Store, func(n int, on bool) error {
		p := "/api/wallets/" + names[n%len(names)] + "/cards"
		if on && first == "" {
			first = p
		}
		if _, _, err := send(ctx, client, http.MethodGet, wal, p, map[string]string{"User-Agent": "shop-web/3.2"}, nil); err != nil {
			return err
		}
		if n%5 == 0 {
			s.pause(n, 1)
			_, _, err := send(ctx, client, http.MethodGet, wal, "/health", map[string]string{"User-Agent": "kube-probe/1.31"}, nil)
			return err
		}
		return nil
	})
	return GroundTruth{
		Description: "At the onset a deploy of wallet (10.0.0.70:8080) drops the masking of card numbers: every card list carries the full number (a test Visa PAN) in card_number.",
		Kind:        "sensitive_data", RootCause: wal.addr.String(), Onset: onset,
		Evidence: Evidence{Method: http.MethodGet, Path: first, Status: http.StatusOK, BodyContains: "card_number"},
	}, err
}

// runAdminNoAuth: the ops console calls the admin export with a bearer
// token every slot; from the onset a host no one knows calls it without
// credentials, and a broken middleware lets it through.
func runAdminNoAuth(ctx context.Context, s *stage) (GroundTruth, error) {
	adm := newService("accounts", incFrontAt)
	mux := http.NewServeMux()
	health(s.clock, adm, mux, "accounts/3.0")
	adm.handle(s.clock, mux, "GET /admin/users/export", func(w http.ResponseWriter, r *http.Request) {
		s.clock.Sleep(12 * time.Millisecond)
		users := make([]map[string]any, 0, 4)
		for k := range 4 {
			users = append(users, map[string]any{"id": "u-" + names[k], "role": []string{"admin", "member"}[k%2], "mfa": k%3 != 0})
		}
		writeJSON(w, http.StatusOK, map[string]any{"users": users, "exported_by": r.Header.Get("X-Operator")})
	})
	adm.handle(s.clock, mux, "GET /api/products/{name}", func(w http.ResponseWriter, r *http.Request) {
		s.clock.Sleep(2 * time.Millisecond)
		writeJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "price": 19.9})
	})
	ops, err := s.serve(adm, "10.0.0.7", mux)
	if err != nil {
		return GroundTruth{}, err
	}
	// The same server seen from two more callers: the shop and, after
	// the onset, the unknown host.
	shopSide := newService("accounts", incFrontAt)
	shop, err := s.serve(shopSide, incClientIP, mux)
	if err != nil {
		return GroundTruth{}, err
	}
	strangerSide := newService("accounts", incFrontAt)
	stranger, err := s.serve(strangerSide, "10.0.0.99", mux)
	if err != nil {
		return GroundTruth{}, err
	}
	onset, err := s.slots(ctx, func(bool) {}, func(n int, on bool) error {
		if _, _, err := send(ctx, shop, http.MethodGet, shopSide, "/api/products/"+names[n%len(names)], map[string]string{"User-Agent": "shop-web/3.2"}, nil); err != nil {
			return err
		}
		s.pause(n, 1)
		if _, _, err := send(ctx, ops, http.MethodGet, adm, "/admin/users/export", map[string]string{"User-Agent": "ops-console/1.2", "Authorization": "Bearer ops-7f3a9c", "X-Operator": "oncall"}, nil); err != nil {
			return err
		}
		if on && n%3 == 0 {
			s.pause(n, 2)
			_, _, err := send(ctx, stranger, http.MethodGet, strangerSide, "/admin/users/export", map[string]string{"User-Agent": "python-requests/2.31"}, nil)
			return err
		}
		return nil
	})
	return GroundTruth{
		Description: "accounts (10.0.0.10:8080) serves GET /admin/users/export to the ops console (10.0.0.7) with a bearer token. From the onset 10.0.0.99 calls it without any credentials and gets the user list (200).",
		Kind:        "unauthenticated", RootCause: adm.addr.String(), Onset: onset,
		Evidence: Evidence{Method: http.MethodGet, Path: "/admin/users/export", Status: http.StatusOK, BodyContains: "users"},
	}, err
}
