package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// TokenHeader carries the caller's token to the hub through the API
// server, whose authentication consumes Authorization: the hub's own bearer
// token (--auth token) or a ServiceAccount token (--auth kubernetes). The
// hub reads it when Authorization is absent.
const TokenHeader = "X-Kubeshark-Token"

// HubPortName is the name of the hub Service's port.
const HubPortName = "http"

// HubService is the name of the target's hub Service.
func (t Target) HubService() string {
	t = t.withDefaults()
	if strings.Contains(t.Release, "kubeshark") {
		return t.Release + "-hub"
	}
	return t.Release + "-kubeshark-hub"
}

// Proxy forwards requests to the in-cluster hub through the API server.
type Proxy struct {
	http.Handler
	// Via says how: "service proxy" or "port-forward to pod NAME".
	Via string
	// Close stops a port-forward; a no-op for the service proxy.
	Close func()
	// Warning, when not empty, says what did not work but was not needed
	// to start (no client token: requests then need their own).
	Warning string
}

// ErrHubNotInstalled is returned when the hub Service does not exist.
var ErrHubNotInstalled = errors.New("no kubeshark hub is installed")

// NewProxy checks that the target's hub answers /healthz through the API
// server's service proxy and returns a handler that forwards every request
// there. When the service proxy is refused (the API server cannot reach
// pod IPs, or RBAC denies services/proxy) it falls back to a port-forward
// to a ready hub pod. Its errors say what failed and what to do.
func NewProxy(ctx context.Context, t Target) (*Proxy, error) {
	t = t.withDefaults()
	c, err := t.clients()
	if err != nil {
		return nil, err
	}
	svc, err := c.typed.CoreV1().Services(t.Namespace).Get(ctx, t.HubService(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%w: service %s not found in namespace %s (install it with kubeshark tap --cluster --namespace %s)",
			ErrHubNotInstalled, t.HubService(), t.Namespace, t.Namespace)
	case apierrors.IsForbidden(err):
		// Reading the Service is not needed to proxy to it: go on.
		svc = nil
	case err != nil:
		return nil, fmt.Errorf("reaching the cluster: %w", err)
	}
	// A hub with --auth kubernetes lets in the bearer of a token of the
	// chart's client ServiceAccount; a request that brings its own
	// Authorization keeps it.
	var warning string
	var token func(context.Context) (string, error)
	ts := &tokenSource{client: c.typed, namespace: t.Namespace, account: ClientServiceAccount}
	if _, err := ts.Token(ctx); err != nil {
		warning = err.Error() + "; requests reach the hub only with their own Authorization: Bearer <token>"
	} else {
		token = ts.Token
	}
	h, err := ServiceProxy(c.cfg, t.Namespace, t.HubService(), HubPortName, token)
	if err != nil {
		return nil, err
	}
	perr := probe(ctx, h)
	if perr == nil {
		return &Proxy{Handler: h, Via: "service proxy", Close: func() {}, Warning: warning}, nil
	}
	if svc == nil {
		return nil, fmt.Errorf("the hub did not answer through the API server's service proxy: %w", perr)
	}
	pf, ferr := portForward(ctx, c, svc, token)
	if ferr != nil {
		return nil, fmt.Errorf("the hub did not answer through the API server's service proxy (%w), and a port-forward failed too: %w", perr, ferr)
	}
	if err := probe(ctx, pf.Handler); err != nil {
		pf.Close()
		return nil, fmt.Errorf("the hub did not answer through the service proxy (%w) nor through %s: %w", perr, pf.Via, err)
	}
	pf.Warning = warning
	return pf, nil
}

// ServiceProxy returns a handler that forwards each request to
// namespace/service:port through the API server's service proxy
// (/api/v1/namespaces/NS/services/http:SVC:PORT/proxy/PATH), with the
// credentials of cfg. A bearer token in the local client's Authorization
// header is moved to TokenHeader: the API server would take it as the
// caller's own credential and strip it. A request without one gets
// token's token, when token is not nil.
func ServiceProxy(cfg *rest.Config, namespace, service, port string, token func(context.Context) (string, error)) (http.Handler, error) {
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes transport: %w", err)
	}
	base, err := url.Parse(cfg.Host)
	if err != nil || base.Host == "" {
		// A bare host:port, as kubeconfigs sometimes have.
		base, err = url.Parse("https://" + cfg.Host)
		if err != nil {
			return nil, fmt.Errorf("API server address %q: %w", cfg.Host, err)
		}
	}
	prefix := strings.TrimSuffix(base.Path, "/") +
		fmt.Sprintf("/api/v1/namespaces/%s/services/http:%s:%s/proxy", namespace, service, port)
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = base.Scheme, base.Host
			r.Out.URL.Path = prefix + r.In.URL.Path
			r.Out.URL.RawPath = ""
			r.Out.Host = ""
			if a := r.In.Header.Get("Authorization"); a != "" {
				r.Out.Header.Del("Authorization")
				if tok, ok := strings.CutPrefix(a, "Bearer "); ok {
					r.Out.Header.Set(TokenHeader, tok)
				}
			} else if token != nil && r.In.Header.Get(TokenHeader) == "" {
				if tok, err := token(r.In.Context()); err == nil {
					r.Out.Header.Set(TokenHeader, tok)
				}
			}
		},
		Transport:     rt,
		FlushInterval: -1, // MCP's event streams flow as they are written
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "kubeshark proxy: the API server did not answer: "+err.Error(), http.StatusBadGateway)
		},
	}, nil
}

// probe asks h for /healthz and turns an API server Status into an error
// a person can act on.
func probe(ctx context.Context, h http.Handler) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req := httptestRequest(ctx, "/healthz")
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, req)
	if rec.code == http.StatusOK && strings.TrimSpace(rec.body.String()) == "ok" {
		return nil
	}
	return statusError(rec.code, rec.body.String())
}

// statusError explains a failed proxied request, reading the API server's
// Status when there is one.
func statusError(code int, body string) error {
	var st metav1.Status
	msg := strings.TrimSpace(body)
	if json.Unmarshal([]byte(body), &st) == nil && st.Kind == "Status" {
		msg = st.Message
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	switch code {
	case http.StatusForbidden:
		return fmt.Errorf("forbidden: %s (your account needs get/create on services/proxy in the hub's namespace)", msg)
	case http.StatusUnauthorized:
		return fmt.Errorf("the API server rejected the kubeconfig's credentials: %s", msg)
	case http.StatusServiceUnavailable:
		return fmt.Errorf("hub not ready: %s (kubectl get pods -l app.kubernetes.io/component=hub shows why)", msg)
	case 0:
		return errors.New("no answer")
	}
	return fmt.Errorf("HTTP %d: %s", code, msg)
}

type recorder struct {
	header http.Header
	code   int
	body   strings.Builder
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(c int) {
	if r.code == 0 {
		r.code = c
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	if r.body.Len() < 4096 {
		r.body.Write(b)
	}
	return len(b), nil
}

func httptestRequest(ctx context.Context, path string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://kubeshark-proxy"+path, http.NoBody)
	req.RemoteAddr = "127.0.0.1:0"
	return req
}
