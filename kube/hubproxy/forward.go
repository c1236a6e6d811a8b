package hubproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// forward is a running port-forward to a hub pod: kubectl port-forward's
// machinery on a loopback port of our own.
type forward struct {
	pod   string
	base  *url.URL
	stop  chan struct{}
	once  sync.Once
	local *http.Client
}

func (f *forward) close() { f.once.Do(func() { close(f.stop) }) }

// hubPod picks a ready hub pod and its port from the Service's
// EndpointSlices.
func (p *Proxy) hubPod(ctx context.Context, c *conn) (pod string, port int32, err error) {
	slices, err := c.clientset.DiscoveryV1().EndpointSlices(p.opts.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + p.opts.Service,
	})
	if err != nil {
		return "", 0, p.apiError(c, "list the EndpointSlices of Service "+p.opts.Namespace+"/"+p.opts.Service,
			"list on endpointslices.discovery.k8s.io in namespace "+p.opts.Namespace, err)
	}
	for _, s := range slices.Items {
		port = 0
		for _, sp := range s.Ports {
			if sp.Port != nil && (sp.Name != nil && *sp.Name == p.opts.Port || len(s.Ports) == 1) {
				port = *sp.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			if ready && e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
				return e.TargetRef.Name, port, nil
			}
		}
	}
	return "", 0, newError(ErrHubNotReady, nil, "the hub is not ready: Service %s/%s has no ready pod endpoint on port %q: check the hub pod with kubectl -n %s get pods", p.opts.Namespace, p.opts.Service, p.opts.Port, p.opts.Namespace)
}

// startForward starts a port-forward after the service proxy failed with
// refused, or returns an error saying both failed.
func (p *Proxy) startForward(ctx context.Context, c *conn, refused *Error) (*forward, error) {
	both := func(err error) error {
		var e *Error
		kind := refused.Kind
		if errors.As(err, &e) && e.Kind == ErrForbidden {
			kind = ErrForbidden
		}
		return newError(kind, err, "%s; the port-forward tried instead failed too: %v", strings.TrimSuffix(refused.Msg, "."), err)
	}
	pod, port, err := p.hubPod(ctx, c)
	if err != nil {
		return nil, both(err)
	}
	f, err := p.portForward(ctx, c, pod, port)
	if err != nil {
		return nil, both(err)
	}
	p.opts.Logger.Info("the service proxy was refused; using a port-forward", "pod", pod, "reason", refused.Msg)
	p.mu.Lock()
	if p.pf != nil {
		p.mu.Unlock()
		f.close()
		return p.pf, nil
	}
	p.pf = f
	p.mu.Unlock()
	return f, nil
}

// portForward forwards a loopback port to pod:port over a websocket,
// falling back to SPDY, as kubectl port-forward does.
func (p *Proxy) portForward(ctx context.Context, c *conn, pod string, port int32) (*forward, error) {
	u := c.api("namespaces", p.opts.Namespace, "pods", pod, "portforward")
	rt, upgrader, err := spdy.RoundTripperFor(c.cfg)
	if err != nil {
		return nil, err
	}
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	if ws, err := portforward.NewSPDYOverWebsocketDialer(u, c.cfg); err == nil {
		dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}
	stop, ready := make(chan struct{}), make(chan struct{})
	var errOut strings.Builder
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(int(port))}, stop, ready, io.Discard, &syncWriter{w: &errOut})
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	select {
	case err := <-done:
		if err == nil {
			err = errors.New("the port-forward ended at once")
		}
		return nil, p.forwardError(c, pod, err)
	case <-ready:
	case <-time.After(30 * time.Second):
		close(stop)
		return nil, fmt.Errorf("port-forward to pod %s/%s: not ready in 30 s", p.opts.Namespace, pod)
	case <-ctx.Done():
		close(stop)
		return nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return nil, fmt.Errorf("port-forward to pod %s/%s: no local port: %v", p.opts.Namespace, pod, err)
	}
	f := &forward{pod: pod, stop: stop, local: &http.Client{},
		base: &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))}}
	go func() {
		// When the forward dies, the next request tries the service
		// proxy again.
		<-done
		f.close()
		p.mu.Lock()
		if p.pf == f {
			p.pf = nil
		}
		p.mu.Unlock()
	}()
	return f, nil
}

func (p *Proxy) forwardError(c *conn, pod string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "forbidden") || strings.Contains(msg, "403") {
		return newError(ErrForbidden, err, "forbidden: you may not port-forward to pod %s/%s (%s): ask for RBAC get and create on pods/portforward in namespace %s", p.opts.Namespace, pod, msg, p.opts.Namespace)
	}
	if isUnreachable(err) {
		return unreachable(c.cfg.Host, p.opts.Context, err)
	}
	return fmt.Errorf("port-forward to pod %s/%s: %w", p.opts.Namespace, pod, err)
}

func (p *Proxy) viaForward(req *http.Request, body []byte, c *conn, f *forward, tok string) (*http.Response, error) {
	target := f.base.JoinPath(req.URL.Path)
	target.RawQuery = req.URL.RawQuery
	resp, err := f.local.Transport.RoundTrip(outbound(req, body, target, tok))
	if err != nil {
		f.close()
		return nil, fmt.Errorf("through the port-forward to pod %s/%s: %w", p.opts.Namespace, f.pod, err)
	}
	if resp.StatusCode < 400 {
		return resp, nil
	}
	msg, err := peek(resp)
	if err != nil {
		return nil, err
	}
	return p.hubAnswer(resp, msg, c, tok)
}

// syncWriter serializes the port-forwarder's error output.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
