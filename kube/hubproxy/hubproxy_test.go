package hubproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/kube/hubauth"
	"github.com/kubeshark-wasm/kubeshark/kube/kubetest"
)

// The port-forward fallback cannot run here (no kubelet); its decision is
// tested on the errors the service proxy path produces.
func TestShouldPortForward(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"RBAC refused services/proxy", newError(ErrForbidden, errProxyRefused, "forbidden"), true},
		{"API server cannot reach the pod", newError(ErrAPIUnreachable, errProxyRefused, "could not reach the hub"), true},
		{"no hub installed", newError(ErrNoHub, nil, "no hub"), false},
		{"hub not ready", newError(ErrHubNotReady, nil, "no endpoints"), false},
		{"token rejected by the hub", newError(ErrTokenRejected, nil, "rejected"), false},
		{"hub forbids the ServiceAccount", newError(ErrForbidden, nil, "forbidden by the hub"), false},
		{"API server unreachable", unreachable("https://10.0.0.1:6443", "", errors.New("dial")), false},
		{"no kubeconfig", newError(ErrNoKubeconfig, nil, "none"), false},
		{"wrapped refusal", fmt.Errorf("post: %w", newError(ErrForbidden, errProxyRefused, "forbidden")), true},
	} {
		if got := shouldPortForward(tc.err); got != tc.want {
			t.Errorf("%s: shouldPortForward = %v, want %v", tc.name, got, tc.want)
		}
	}
	// The sentinel survives the fallback's wrapping.
	if err := newError(ErrForbidden, errProxyRefused, "x"); !errors.Is(err, ErrForbidden) || errors.Is(err, ErrNoHub) {
		t.Fatal("Error does not unwrap to its kind alone")
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestTokenRenewal: a token is reused until four fifths of its life (at
// the latest a minute before expiry), then replaced; a rejected one is
// dropped at once.
func TestTokenRenewal(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		life        time.Duration
		reuseUntil  time.Duration // still the same token at this age
		renewedFrom time.Duration // a new one at this age
	}{
		{10 * time.Minute, 7*time.Minute + 59*time.Second, 8 * time.Minute},
		{time.Hour, 47 * time.Minute, 48 * time.Minute},
		// Short lives renew a minute before expiry, not at 4/5.
		{4 * time.Minute, 2*time.Minute + 59*time.Second, 3 * time.Minute},
	} {
		n := 0
		start := clk.t
		s := &tokenSource{now: clk.now, fetch: func(context.Context) (string, time.Time, error) {
			n++
			return fmt.Sprint("tok", n), clk.t.Add(tc.life), nil
		}}
		first, _ := s.get(context.Background())
		clk.t = start.Add(tc.reuseUntil)
		if got, _ := s.get(context.Background()); got != first {
			t.Errorf("life %v: renewed at %v", tc.life, tc.reuseUntil)
		}
		clk.t = start.Add(tc.renewedFrom)
		if got, _ := s.get(context.Background()); got == first {
			t.Errorf("life %v: not renewed at %v", tc.life, tc.renewedFrom)
		}
		second, _ := s.get(context.Background())
		s.invalidate(second)
		if got, _ := s.get(context.Background()); got == second || n != 3 {
			t.Errorf("life %v: a rejected token was reused (%d requests)", tc.life, n)
		}
	}
	failing := &tokenSource{now: clk.now, fetch: func(context.Context) (string, time.Time, error) {
		return "", time.Time{}, errors.New("boom")
	}}
	if _, err := failing.get(context.Background()); err == nil {
		t.Fatal("a failed request gave a token")
	}
}

// TestTokenRenewalOnARealAPIServer requests real tokens with the minimum
// lifetime the API server accepts (10 minutes) and moves an injected clock
// instead of waiting.
func TestTokenRenewalOnARealAPIServer(t *testing.T) {
	env := kubetest.Start(t)
	ctx := context.Background()
	env.CreateNamespace(t, "kprx-renew", nil)
	createSA(t, env, "kprx-renew")
	clk := &fakeClock{t: time.Now()}
	p := New(Options{Kubeconfig: env.Kubeconfig, Namespace: "kprx-renew", TokenLifetime: 10 * time.Minute, Now: clk.now})
	c, err := p.connect()
	if err != nil {
		t.Fatal(err)
	}
	start := clk.t
	first, err := c.tokens.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clk.t = start.Add(7 * time.Minute)
	if got, _ := c.tokens.get(ctx); got != first {
		t.Fatal("renewed after 7 of 10 minutes")
	}
	clk.t = start.Add(8*time.Minute + time.Second)
	second, err := c.tokens.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("not renewed after 8 of 10 minutes")
	}
	for _, tok := range []string{first, second} {
		aud, exp := reviewed(t, env, tok)
		if aud != "kubeshark" || exp < 9*time.Minute || exp > 11*time.Minute {
			t.Fatalf("token audience %q, lifetime %v", aud, exp)
		}
	}
}

// TestTokenOptional: without the client ServiceAccount a TokenOptional
// proxy sends requests without a token (and asks again only 30 s later),
// a plain one fails them; an unreachable API server fails both.
func TestTokenOptional(t *testing.T) {
	env := kubetest.Start(t)
	ctx := context.Background()
	env.CreateNamespace(t, "kprx-opt", nil)
	clk := &fakeClock{t: time.Now()}
	strict := New(Options{Kubeconfig: env.Kubeconfig, Namespace: "kprx-opt", Now: clk.now})
	c, err := strict.connect()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.token(ctx, c); !errors.Is(err, ErrNoHub) {
		t.Fatalf("strict proxy without the ServiceAccount: %v, want ErrNoHub", err)
	}
	opt := New(Options{Kubeconfig: env.Kubeconfig, Namespace: "kprx-opt", Now: clk.now, TokenOptional: true})
	c, err = opt.connect()
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := opt.token(ctx, c); tok != "" || err != nil {
		t.Fatalf("optional proxy without the ServiceAccount: %q %v, want no token and no error", tok, err)
	}
	createSA(t, env, "kprx-opt")
	clk.t = clk.t.Add(29 * time.Second)
	if tok, err := opt.token(ctx, c); tok != "" || err != nil {
		t.Fatalf("asked again within 30 s: %q %v", tok, err)
	}
	clk.t = clk.t.Add(2 * time.Second)
	if tok, err := opt.token(ctx, c); tok == "" || err != nil {
		t.Fatalf("after 30 s, with the ServiceAccount: %q %v", tok, err)
	}

	down := New(Options{Kubeconfig: kubeconfigFor(t, "https://127.0.0.1:1"), TokenOptional: true})
	c, err = down.connect()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := down.token(ctx, c); !errors.Is(err, ErrAPIUnreachable) {
		t.Fatalf("optional proxy, API server down: %v, want ErrAPIUnreachable", err)
	}
}

// A request's own token stays; ours replaces it; Authorization never
// leaves (the API server would take it as the caller's credential).
func TestOutboundToken(t *testing.T) {
	target, _ := url.Parse("https://api.example/x")
	for _, tc := range []struct{ own, ours, want string }{
		{"theirs", "", "theirs"},
		{"", "ours", "ours"},
		{"theirs", "ours", "ours"},
		{"", "", ""},
	} {
		req, _ := http.NewRequest("GET", "http://hub/api/calls", nil)
		req.Header.Set("Authorization", "Bearer x")
		if tc.own != "" {
			req.Header.Set(hubauth.Header, tc.own)
		}
		out := outbound(req, nil, target, tc.ours)
		if got := out.Header.Get(hubauth.Header); got != tc.want || out.Header.Get("Authorization") != "" {
			t.Errorf("own %q ours %q: header %q (want %q), Authorization %q", tc.own, tc.ours, got, tc.want, out.Header.Get("Authorization"))
		}
	}
}

// kubeconfigFor writes a kubeconfig pointing at server.
func kubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"" + server + "\", insecure-skip-tls-verify: true}}]\n" +
		"users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
