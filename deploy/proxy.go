package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/kube/hubauth"
	"github.com/kubeshark-wasm/kubeshark/kube/hubproxy"
)

// The names the chart, the hub and its clients agree on (package hubauth
// holds them).
const (
	// TokenHeader carries the caller's token to the hub through the API
	// server, whose authentication consumes Authorization.
	TokenHeader = hubauth.Header
	// HubPortName is the name of the hub Service's port.
	HubPortName = hubauth.ServicePort
	// ClientServiceAccount is the chart's ServiceAccount whose tokens
	// clients request (values: client.serviceAccount).
	ClientServiceAccount = hubauth.ClientServiceAccount
)

// HubService is the name of the target's hub Service.
func (t Target) HubService() string {
	t = t.withDefaults()
	if strings.Contains(t.Release, "kubeshark") {
		return t.Release + "-hub"
	}
	return t.Release + "-kubeshark-hub"
}

// HubProxyOptions are the options of a hubproxy.Proxy to the target's
// hub.
func (t Target) HubProxyOptions() hubproxy.Options {
	t = t.withDefaults()
	return hubproxy.Options{Kubeconfig: t.Kubeconfig, Context: t.Context, Namespace: t.Namespace,
		Service: t.HubService(), Port: HubPortName, Logger: t.Logger}
}

// Proxy serves the in-cluster hub: an http.Handler that sends every
// request on through a hubproxy.Proxy (the API server's service proxy, or
// a port-forward when that is refused).
type Proxy struct {
	http.Handler
	// Via says how: "service proxy" or "port-forward to pod NS/NAME".
	Via string
	// Close stops a port-forward; harmless for the service proxy.
	Close func()
	// Warning, when not empty, says what did not work but was not needed
	// to start (no client token: requests then need their own).
	Warning string
}

// ErrHubNotInstalled is returned when the hub Service (or its namespace)
// does not exist.
var ErrHubNotInstalled = errors.New("no kubeshark hub is installed")

// ErrHubNotReady is returned when the hub Service has no ready pod.
var ErrHubNotReady = errors.New("hub not ready")

// NewProxy checks that the target's hub answers /healthz through the API
// server and returns a handler that forwards every request there. Requests
// without a token of their own get one of the chart's client
// ServiceAccount (hubproxy's TokenRequest source, renewed before it
// expires) when one can be had. Its errors say what failed and what to do.
func NewProxy(ctx context.Context, t Target) (*Proxy, error) {
	t = t.withDefaults()
	opts := t.HubProxyOptions()
	opts.TokenOptional = true
	opts.UserAgent = "kubeshark-proxy"
	hp := hubproxy.New(opts)

	var warning string
	if _, err := hp.Token(ctx); err != nil {
		var e *hubproxy.Error
		if errors.As(err, &e) && (e.Kind == hubproxy.ErrNoKubeconfig || e.Kind == hubproxy.ErrAPIUnreachable || e.Kind == hubproxy.ErrCredentials) {
			return nil, err
		}
		warning = fmt.Sprintf("requesting a token of ServiceAccount %s/%s: %v; requests reach the hub only with their own Authorization: Bearer <token>",
			t.Namespace, ClientServiceAccount, err)
	}
	if err := probe(ctx, hp, t.Namespace); err != nil {
		hp.Close()
		return nil, err
	}
	return &Proxy{Handler: handler(hp), Via: hp.Via(), Close: hp.Close, Warning: warning}, nil
}

// probe asks the hub for /healthz and names what is wrong when it does
// not answer "ok".
func probe(ctx context.Context, hp *hubproxy.Proxy, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hp.URL()+"/healthz", http.NoBody)
	if err != nil {
		return err
	}
	resp, err := hp.Client().Do(req)
	if err != nil {
		var e *hubproxy.Error
		if errors.As(err, &e) {
			switch e.Kind {
			case hubproxy.ErrNoHub:
				return &proxyError{ErrHubNotInstalled.Error() + " in namespace " + namespace + ": " +
					strings.TrimPrefix(e.Msg, "no hub installed: "), []error{ErrHubNotInstalled, e}}
			case hubproxy.ErrHubNotReady:
				return &proxyError{ErrHubNotReady.Error() + ": " + strings.TrimPrefix(e.Msg, "the hub is not ready: "), []error{ErrHubNotReady, e}}
			}
			return e
		}
		return fmt.Errorf("the hub did not answer through the API server: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "ok" {
		return fmt.Errorf("%s answered /healthz with %d %q, not ok: is it a kubeshark hub?", hp.Describe(), resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// proxyError says hubproxy's sentence in `kubeshark proxy`'s words and
// wraps both packages' sentinels.
type proxyError struct {
	msg  string
	errs []error
}

func (e *proxyError) Error() string   { return e.msg }
func (e *proxyError) Unwrap() []error { return e.errs }

// handler forwards each request to the hub through hp. A bearer token in
// the local client's Authorization header moves to TokenHeader (the API
// server would take it as the caller's own credential and strip it); a
// request without one gets hp's.
func handler(hp *hubproxy.Proxy) http.Handler {
	base, _ := url.Parse(hp.URL())
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = base.Scheme, base.Host
			r.Out.Host = ""
			if a := r.In.Header.Get("Authorization"); a != "" {
				r.Out.Header.Del("Authorization")
				if tok, ok := strings.CutPrefix(a, "Bearer "); ok {
					r.Out.Header.Set(TokenHeader, tok)
				}
			}
		},
		Transport:     hp.Client().Transport,
		FlushInterval: -1, // MCP's event streams flow as they are written
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			code := http.StatusBadGateway
			var e *hubproxy.Error
			if errors.As(err, &e) {
				switch e.Kind {
				case hubproxy.ErrNoHub:
					code = http.StatusNotFound
				case hubproxy.ErrHubNotReady:
					code = http.StatusServiceUnavailable
				case hubproxy.ErrForbidden:
					code = http.StatusForbidden
				case hubproxy.ErrTokenRejected, hubproxy.ErrCredentials:
					code = http.StatusUnauthorized
				}
			}
			http.Error(w, "kubeshark proxy: "+err.Error(), code)
		},
	}
}
