package hubproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Sentinels wrapped by *Error, for errors.Is.
var (
	// ErrNoKubeconfig: no kubeconfig was found or it cannot be used.
	ErrNoKubeconfig = errors.New("no usable kubeconfig")
	// ErrAPIUnreachable: the API server does not answer.
	ErrAPIUnreachable = errors.New("API server unreachable")
	// ErrCredentials: the API server rejected the kubeconfig's
	// credentials (401).
	ErrCredentials = errors.New("credentials rejected")
	// ErrNoHub: no hub is installed where we looked (no Service or no
	// client ServiceAccount in the namespace).
	ErrNoHub = errors.New("no hub installed")
	// ErrForbidden: RBAC refused something we need; the message names
	// the permission.
	ErrForbidden = errors.New("forbidden")
	// ErrHubNotReady: the Service exists but no hub pod is ready.
	ErrHubNotReady = errors.New("hub not ready")
	// ErrTokenRejected: the hub did not accept our token.
	ErrTokenRejected = errors.New("token rejected by the hub")

	// errProxyRefused marks a service proxy failure a port-forward may
	// get around.
	errProxyRefused = errors.New("service proxy refused")
)

// Error is a failure to reach the hub: one sentence saying what failed and
// what to do, and the sentinel it is an instance of.
type Error struct {
	Kind error
	Msg  string
	// cause is the underlying error, kept for errors.Is/As.
	cause error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func newError(kind error, cause error, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), cause: cause}
}

// apiStatus decodes an API server Status answer (the service proxy's own
// refusals); the hub never answers with one.
func apiStatus(body []byte) (*metav1.Status, bool) {
	var s metav1.Status
	if json.Unmarshal(body, &s) != nil || s.Kind != "Status" {
		return nil, false
	}
	return &s, true
}

// isUnreachable says whether err is a failure to reach the API server at
// all (refused, no route, no such host, timed out) rather than an answer.
func isUnreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	var ue *url.Error
	switch {
	case errors.As(err, &dns), errors.As(err, &op):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &ue) && ue.Timeout():
		return true
	}
	return false
}

// shouldPortForward decides whether a failed service proxy request is
// retried through a port-forward: only when the API server itself refused
// to proxy (RBAC without services/proxy) or could not reach the hub pod
// behind a Service that has ready endpoints (a control plane outside the
// pod network). Everything else — no kubeconfig, API server down, no hub,
// no ready pod, a token the hub rejected — would fail the same way through
// a port-forward, so it is reported as it is.
func shouldPortForward(err error) bool {
	return errors.Is(err, errProxyRefused)
}

// unreachable wraps a transport error reaching the API server at host.
func unreachable(host, kctx string, err error) *Error {
	cause := err.Error()
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		cause = op.Err.Error()
	}
	where := "the current context"
	if kctx != "" {
		where = fmt.Sprintf("context %q", kctx)
	}
	return newError(ErrAPIUnreachable, err, "the Kubernetes API server %s is unreachable (%s): check that the cluster is up and that %s of your kubeconfig points at it", host, cause, where)
}

// apiError classifies an error client-go returned while doing what (e.g.
// "create a token for ServiceAccount kubeshark/kubeshark-mcp-client").
func (p *Proxy) apiError(c *conn, what, rbac string, err error) *Error {
	switch {
	case isUnreachable(err):
		return unreachable(c.cfg.Host, p.opts.Context, err)
	case apierrors.IsUnauthorized(err):
		return newError(ErrCredentials, err, "the Kubernetes API server %s rejected your credentials (401: %s): log in again or refresh your kubeconfig", c.cfg.Host, apiMessage(err))
	case apierrors.IsForbidden(err):
		return newError(ErrForbidden, err, "forbidden: you may not %s (%s): ask for RBAC %s", what, apiMessage(err), rbac)
	}
	return newError(nil, err, "cannot %s: %v", what, err)
}

func apiMessage(err error) string {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		return s.Status().Message
	}
	return err.Error()
}

// joinMsg joins two sentences without a doubled full stop.
func joinMsg(a, b string) string { return strings.TrimSuffix(a, ".") + "; " + b }
