package hubproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeshark-wasm/kubeshark/kube/hubauth"
)

// DefaultNamespace is where the hub is looked for without --namespace.
const DefaultNamespace = hubauth.DefaultNamespace

// Options configures a Proxy.
type Options struct {
	// Kubeconfig is the kubeconfig file; empty uses KUBECONFIG or
	// ~/.kube/config, as kubectl does.
	Kubeconfig string
	// Context is the kubeconfig context; empty uses the current one.
	Context string
	// Namespace is the hub's namespace (DefaultNamespace when empty).
	Namespace string
	// Service and Port name the hub's Service and port
	// (hubauth.ServiceName, hubauth.ServicePort by default).
	Service, Port string
	// ServiceAccount is the one whose tokens are requested
	// (hubauth.ClientServiceAccount by default), Audience their audience
	// (hubauth.Audience).
	ServiceAccount, Audience string
	// TokenLifetime is the lifetime asked of the TokenRequest API (1 h
	// by default; the API server accepts no less than 10 minutes).
	TokenLifetime time.Duration
	// TokenOptional sends a request without a token when none can be
	// had (no client ServiceAccount, or RBAC refuses TokenRequest),
	// leaving the hub to answer it, instead of failing it; the next
	// attempt to get one is then 30 s later. `kubeshark proxy` sets it:
	// its callers may bring their own token.
	TokenOptional bool
	// UserAgent is sent to the API server ("kubeshark-mcp-proxy" by
	// default).
	UserAgent string
	// Now is the clock that decides when the token is renewed.
	Now    func() time.Time
	Logger *slog.Logger
}

// Proxy sends HTTP requests to the in-cluster hub through the API server.
// It connects lazily: New never fails, and every request that cannot be
// delivered fails with an *Error saying why.
type Proxy struct {
	opts   Options
	client *http.Client

	mu sync.Mutex
	c  *conn
	pf *forward
	// noTokenUntil is when TokenOptional tries for a token again.
	noTokenUntil time.Time
}

// conn is what a loaded kubeconfig gives.
type conn struct {
	cfg       *rest.Config
	rt        http.RoundTripper // the API server, with the kubeconfig's credentials
	clientset kubernetes.Interface
	host      *url.URL // the API server, with any path prefix the kubeconfig gives
	proxyURL  *url.URL // .../services/NAME:PORT/proxy
	tokens    *tokenSource
}

// api is the URL of the core API path elems on the API server.
func (c *conn) api(elems ...string) *url.URL {
	u := c.host.JoinPath(append([]string{"api", "v1"}, elems...)...)
	// JoinPath keeps a URL without a path relative ("api/v1/…").
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
		u.RawPath = ""
	}
	return u
}

// New returns a Proxy.
func New(opts Options) *Proxy {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.Service == "" {
		opts.Service = hubauth.ServiceName
	}
	if opts.Port == "" {
		opts.Port = hubauth.ServicePort
	}
	if opts.ServiceAccount == "" {
		opts.ServiceAccount = hubauth.ClientServiceAccount
	}
	if opts.Audience == "" {
		opts.Audience = hubauth.Audience
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "kubeshark-mcp-proxy"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{opts: opts}
	p.client = &http.Client{Transport: (*transport)(p)}
	return p
}

// URL is the base URL to send the hub's requests to with Client (e.g.
// URL()+"/mcp"). Only its path matters: Client routes it.
func (p *Proxy) URL() string {
	return "http://" + p.opts.Service + "." + p.opts.Namespace + ".kubernetes"
}

// Client is the HTTP client that delivers requests for URL to the hub:
// through the service proxy, or a port-forward when that is refused.
func (p *Proxy) Client() *http.Client { return p.client }

// Describe names the hub for messages: "hub kubeshark/kubeshark-hub".
func (p *Proxy) Describe() string {
	return "hub " + p.opts.Namespace + "/" + p.opts.Service
}

// Token returns the token requests carry (requesting one when needed):
// callers use it to check at start that one can be had.
func (p *Proxy) Token(ctx context.Context) (string, error) {
	c, err := p.connect()
	if err != nil {
		return "", err
	}
	return c.tokens.get(ctx)
}

// Via says how requests reach the hub now: "service proxy", or
// "port-forward to pod NAME" after the service proxy was refused.
func (p *Proxy) Via() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pf != nil {
		return "port-forward to pod " + p.opts.Namespace + "/" + p.pf.pod
	}
	return "service proxy"
}

// Close stops a port-forward, if one runs; the Proxy stays usable.
func (p *Proxy) Close() {
	p.mu.Lock()
	pf := p.pf
	p.pf = nil
	p.mu.Unlock()
	if pf != nil {
		pf.close()
	}
}

// connect loads the kubeconfig on first use (and again after it failed, so
// that fixing it needs no restart).
func (p *Proxy) connect() (*conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c != nil {
		return p.c, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = p.opts.Kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: p.opts.Context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		switch {
		case clientcmd.IsEmptyConfig(err):
			return nil, newError(ErrNoKubeconfig, err, "no kubeconfig found (looked at $KUBECONFIG and ~/.kube/config): pass --kubeconfig FILE, or set up cluster access as for kubectl")
		case p.opts.Kubeconfig != "":
			return nil, newError(ErrNoKubeconfig, err, "kubeconfig %s cannot be used: %v: pass the kubeconfig of the cluster the hub runs in with --kubeconfig", p.opts.Kubeconfig, err)
		}
		return nil, newError(ErrNoKubeconfig, err, "the kubeconfig cannot be used: %v: pass --kubeconfig or --context", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = p.opts.UserAgent
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, newError(ErrNoKubeconfig, err, "the kubeconfig's credentials cannot be used: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, newError(ErrNoKubeconfig, err, "the kubeconfig cannot be used: %v", err)
	}
	host, err := url.Parse(cfg.Host)
	if err != nil || host.Host == "" {
		return nil, newError(ErrNoKubeconfig, err, "the kubeconfig's server %q is not a URL", cfg.Host)
	}
	c := &conn{cfg: cfg, rt: rt, clientset: cs, host: host}
	c.proxyURL = c.api("namespaces", p.opts.Namespace, "services", p.opts.Service+":"+p.opts.Port, "proxy")
	c.tokens = &tokenSource{now: p.opts.Now, fetch: func(ctx context.Context) (string, time.Time, error) {
		return p.requestToken(ctx, c)
	}}
	p.c = c
	return c, nil
}

// requestToken asks the TokenRequest API for a token of the client
// ServiceAccount.
func (p *Proxy) requestToken(ctx context.Context, c *conn) (string, time.Time, error) {
	secs := int64(p.opts.TokenLifetime / time.Second)
	tr, err := c.clientset.CoreV1().ServiceAccounts(p.opts.Namespace).CreateToken(ctx, p.opts.ServiceAccount, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: []string{p.opts.Audience}, ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		sa := p.opts.Namespace + "/" + p.opts.ServiceAccount
		if isNotFound(err) {
			return "", time.Time{}, newError(ErrNoHub, err, "no hub installed in namespace %q: ServiceAccount %s not found (kubeshark tap --cluster installs the hub; pass --namespace if it runs elsewhere)", p.opts.Namespace, sa)
		}
		return "", time.Time{}, p.apiError(c, "create a token for ServiceAccount "+sa, fmt.Sprintf("create on serviceaccounts/token (resourceNames %s) in namespace %s", p.opts.ServiceAccount, p.opts.Namespace), err)
	}
	p.opts.Logger.Debug("requested a token", "serviceaccount", p.opts.ServiceAccount, "expires", tr.Status.ExpirationTimestamp.Time)
	return tr.Status.Token, tr.Status.ExpirationTimestamp.Time, nil
}

// transport is Proxy's http.RoundTripper.
type transport Proxy

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := (*Proxy)(t)
	// The body is read once here so that it can be sent again through a
	// port-forward; MCP messages are small.
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	c, err := p.connect()
	if err != nil {
		return nil, err
	}
	// A request that carries its own token in hubauth.Header keeps it;
	// tok is ours, "" when we added none.
	tok := ""
	if req.Header.Get(hubauth.Header) == "" {
		if tok, err = p.token(req.Context(), c); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	pf := p.pf
	p.mu.Unlock()
	if pf == nil {
		resp, err := p.viaServiceProxy(req, body, c, tok)
		if err == nil || !shouldPortForward(err) {
			return resp, err
		}
		pf, err = p.startForward(req.Context(), c, err.(*Error))
		if err != nil {
			return nil, err
		}
	}
	return p.viaForward(req, body, c, pf, tok)
}

// token is our token for a request: with TokenOptional, "" (and no error)
// when none can be had.
func (p *Proxy) token(ctx context.Context, c *conn) (string, error) {
	if !p.opts.TokenOptional {
		return c.tokens.get(ctx)
	}
	p.mu.Lock()
	skip := p.opts.Now().Before(p.noTokenUntil)
	p.mu.Unlock()
	if skip {
		return "", nil
	}
	tok, err := c.tokens.get(ctx)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && (e.Kind == ErrNoKubeconfig || e.Kind == ErrAPIUnreachable || e.Kind == ErrCredentials) {
			return "", err
		}
		p.opts.Logger.Debug("sending requests without a token", "reason", err)
		p.mu.Lock()
		p.noTokenUntil = p.opts.Now().Add(30 * time.Second)
		p.mu.Unlock()
		return "", nil
	}
	return tok, nil
}

// outbound copies req for target with the token tok in hubauth.Header;
// with tok "" the request's own header, if any, stays.
func outbound(req *http.Request, body []byte, target *url.URL, tok string) *http.Request {
	out := req.Clone(req.Context())
	out.URL = target
	out.Host = ""
	out.RequestURI = ""
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	// The API server takes Authorization as the caller's own credential.
	out.Header.Del("Authorization")
	if tok != "" {
		out.Header.Set(hubauth.Header, tok)
	}
	return out
}

func (p *Proxy) viaServiceProxy(req *http.Request, body []byte, c *conn, tok string) (*http.Response, error) {
	target := c.proxyURL.JoinPath(req.URL.Path)
	target.RawQuery = req.URL.RawQuery
	resp, err := c.rt.RoundTrip(outbound(req, body, target, tok))
	if err != nil {
		if isUnreachable(err) {
			return nil, unreachable(c.cfg.Host, p.opts.Context, err)
		}
		return nil, err
	}
	if resp.StatusCode < 400 {
		return resp, nil
	}
	msg, err := peek(resp)
	if err != nil {
		return nil, err
	}
	st, isStatus := apiStatus(msg)
	if !isStatus {
		return p.hubAnswer(resp, msg, c, tok)
	}
	resp.Body.Close()
	svc := p.opts.Namespace + "/" + p.opts.Service
	switch code := resp.StatusCode; {
	case code == http.StatusNotFound:
		return nil, newError(ErrNoHub, nil, "no hub installed: Service %s not found (%s); kubeshark tap --cluster installs the hub, or pass --namespace if it runs elsewhere", svc, st.Message)
	case code == http.StatusUnauthorized:
		return nil, newError(ErrCredentials, nil, "the Kubernetes API server %s rejected your credentials (401: %s): log in again or refresh your kubeconfig", c.cfg.Host, st.Message)
	case code == http.StatusForbidden:
		return nil, newError(ErrForbidden, errProxyRefused, "forbidden: the API server refused to proxy to Service %s (%s): ask for RBAC %s on services/proxy (resourceNames %s:%s) in namespace %s (MCP over HTTP needs get, create and delete)", svc, st.Message, proxyVerb(req.Method), p.opts.Service, p.opts.Port, p.opts.Namespace)
	case code == http.StatusServiceUnavailable && strings.Contains(st.Message, "no endpoints available"):
		// The API server says the same of a Service that does not exist.
		_, err := c.clientset.CoreV1().Services(p.opts.Namespace).Get(req.Context(), p.opts.Service, metav1.GetOptions{})
		switch {
		case isNotFound(err):
			return nil, newError(ErrNoHub, nil, "no hub installed: Service %s not found; kubeshark tap --cluster installs the hub, or pass --namespace if it runs elsewhere", svc)
		case err != nil:
			return nil, newError(ErrHubNotReady, nil, "the hub is not ready or not installed: Service %s has no ready endpoints (%s), and you may not get Services to tell which: check with kubectl -n %s get pods", svc, st.Message, p.opts.Namespace)
		}
		return nil, newError(ErrHubNotReady, nil, "the hub is not ready: Service %s has no ready endpoints (%s): check the hub pod with kubectl -n %s get pods, events and logs", svc, st.Message, p.opts.Namespace)
	case code == http.StatusBadGateway, code == http.StatusServiceUnavailable, code == http.StatusGatewayTimeout:
		return nil, newError(ErrAPIUnreachable, errProxyRefused, "the API server could not reach the hub behind Service %s (%d: %s)", svc, code, st.Message)
	}
	return nil, newError(nil, nil, "the API server refused the request to Service %s (%d: %s)", svc, resp.StatusCode, st.Message)
}

// hubAnswer handles an error status the hub itself sent (msg is its
// body): a refused token is said in our words; anything else goes to the
// caller as it is.
func (p *Proxy) hubAnswer(resp *http.Response, msg []byte, c *conn, tok string) (*http.Response, error) {
	if tok == "" {
		// Not our token (the caller's own, or none): the hub's answer
		// is the caller's to read.
		return resp, nil
	}
	why := hubMessage(msg)
	sa := p.opts.Namespace + "/" + p.opts.ServiceAccount
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		resp.Body.Close()
		c.tokens.invalidate(tok)
		return nil, newError(ErrTokenRejected, nil, "the hub rejected the token of ServiceAccount %s (%s): is the hub running with --auth kubernetes? The next call requests a new token", sa, why)
	case http.StatusForbidden:
		if strings.Contains(why, "services/proxy") {
			resp.Body.Close()
			return nil, newError(ErrForbidden, nil, "forbidden by the hub: %s", why)
		}
	case http.StatusServiceUnavailable:
		if strings.Contains(why, "token review failed") {
			resp.Body.Close()
			return nil, newError(ErrHubNotReady, nil, "the hub could not check the token (%s): its ServiceAccount needs the system:auth-delegator ClusterRole", why)
		}
	}
	return resp, nil
}

// proxyVerb is the RBAC verb the API server checks on services/proxy for
// an HTTP method.
func proxyVerb(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return "get"
}

// peek reads an error answer's body (at most 64 KiB) and puts it back.
func peek(resp *http.Response) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// hubMessage is the "error" of the hub's JSON error answer, or the body.
func hubMessage(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(b))
}

func isNotFound(err error) bool {
	var s interface{ Status() metav1.Status }
	return errors.As(err, &s) && s.Status().Code == http.StatusNotFound
}
