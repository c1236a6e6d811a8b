package hubauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The names the chart, the hub and `kubeshark mcp --proxy` agree on.
const (
	// Header carries the ServiceAccount token through the API server's
	// service proxy, which strips Authorization.
	Header = "X-Kubeshark-Token"
	// Audience is the audience tokens are requested for and reviewed
	// against: a token made for the API server (or anything else) is
	// refused, and a kubeshark token is worth nothing to the API server.
	Audience = "kubeshark"
	// ServiceName and ServicePort name the hub's Service and its port.
	ServiceName = "kubeshark-hub"
	ServicePort = "http"
	// ProxyResourceName is the name RBAC sees for the service proxy of
	// the hub's port ("kubeshark-hub:http"): the API server checks
	// services/proxy on it for the user, and the hub checks the same for
	// the token's ServiceAccount, so one rule serves both.
	ProxyResourceName = ServiceName + ":" + ServicePort
	// ClientServiceAccount is the ServiceAccount whose tokens clients
	// request.
	ClientServiceAccount = "kubeshark-mcp-client"
	// DefaultNamespace is the hub's namespace when none is given: the
	// one `kubeshark tap --cluster` installs into by default.
	DefaultNamespace = "kubeshark"
)

// Sentinel errors of Check, for errors.Is.
var (
	// ErrNoToken: the request carried no token.
	ErrNoToken = errors.New("no token")
	// ErrUnauthenticated: the API server did not accept the token for
	// the audience (expired, revoked, another audience, not a token).
	ErrUnauthenticated = errors.New("token rejected")
	// ErrForbidden: the token is valid but RBAC does not allow its
	// subject to use the hub.
	ErrForbidden = errors.New("forbidden")
	// ErrReview: the reviews themselves failed (API server unreachable,
	// the hub's own ServiceAccount may not create reviews).
	ErrReview = errors.New("token review failed")
)

// Options configures an Authenticator.
type Options struct {
	// Client makes the reviews; its identity needs create on
	// tokenreviews and subjectaccessreviews (the system:auth-delegator
	// ClusterRole). Required.
	Client kubernetes.Interface
	// Namespace is the hub's namespace, where a subject must be allowed
	// get on services/proxy named Resource (ProxyResourceName by
	// default). Namespace is required.
	Namespace, Resource string
	// Audience defaults to Audience.
	Audience string
	// Allowed and Denied are how long a result is reused: 30 s and 5 s
	// by default. Failed reviews are not cached.
	Allowed, Denied time.Duration
	// Now is the clock (time.Now by default).
	Now    func() time.Time
	Logger *slog.Logger
}

// Authenticator checks tokens with TokenReview and SubjectAccessReview.
type Authenticator struct {
	opts  Options
	mu    sync.Mutex
	cache map[[32]byte]entry
}

type entry struct {
	user    string
	err     error
	expires time.Time
}

// maxEntries bounds the cache; a full cache drops expired entries first,
// then everything (a flood of distinct tokens only costs reviews).
const maxEntries = 4096

// New returns an Authenticator.
func New(opts Options) (*Authenticator, error) {
	if opts.Client == nil {
		return nil, errors.New("hubauth: Options.Client is required")
	}
	if opts.Namespace == "" {
		return nil, errors.New("hubauth: Options.Namespace (the hub's namespace) is required")
	}
	if opts.Resource == "" {
		opts.Resource = ProxyResourceName
	}
	if opts.Audience == "" {
		opts.Audience = Audience
	}
	if opts.Allowed == 0 {
		opts.Allowed = 30 * time.Second
	}
	if opts.Denied == 0 {
		opts.Denied = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{opts: opts, cache: map[[32]byte]entry{}}, nil
}

// Check returns the token's subject (system:serviceaccount:NS:NAME) when
// it may use the hub, or an error wrapping ErrUnauthenticated,
// ErrForbidden or ErrReview that says why.
func (a *Authenticator) Check(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%w: send a ServiceAccount token for audience %q in %s (kubeshark mcp --proxy does)", ErrNoToken, a.opts.Audience, Header)
	}
	key := sha256.Sum256([]byte(token))
	now := a.opts.Now()
	a.mu.Lock()
	e, ok := a.cache[key]
	a.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.user, e.err
	}
	user, err := a.review(ctx, token)
	if errors.Is(err, ErrReview) {
		return "", err
	}
	ttl := a.opts.Allowed
	if err != nil {
		ttl = a.opts.Denied
	}
	a.mu.Lock()
	if len(a.cache) >= maxEntries {
		for k, v := range a.cache {
			if !now.Before(v.expires) {
				delete(a.cache, k)
			}
		}
		if len(a.cache) >= maxEntries {
			clear(a.cache)
		}
	}
	a.cache[key] = entry{user: user, err: err, expires: now.Add(ttl)}
	a.mu.Unlock()
	return user, err
}

func (a *Authenticator) review(ctx context.Context, token string) (string, error) {
	tr, err := a.opts.Client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: []string{a.opts.Audience}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("%w: TokenReview: %w", ErrReview, err)
	}
	st := tr.Status
	if !st.Authenticated || !slices.Contains(st.Audiences, a.opts.Audience) {
		why := st.Error
		if why == "" {
			why = "not authenticated"
		}
		return "", fmt.Errorf("%w: the API server does not accept it for audience %q (%s)", ErrUnauthenticated, a.opts.Audience, why)
	}
	extra := map[string]authzv1.ExtraValue{}
	for k, v := range st.User.Extra {
		extra[k] = authzv1.ExtraValue(v)
	}
	sar, err := a.opts.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{
			User: st.User.Username, UID: st.User.UID, Groups: st.User.Groups, Extra: extra,
			ResourceAttributes: &authzv1.ResourceAttributes{
				Namespace: a.opts.Namespace, Verb: "get", Resource: "services", Subresource: "proxy", Name: a.opts.Resource,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("%w: SubjectAccessReview: %w", ErrReview, err)
	}
	if !sar.Status.Allowed {
		return "", fmt.Errorf("%w: %s may not get services/proxy %q in namespace %q: bind it to a Role that allows it (the chart's kubeshark-mcp-client Role does)", ErrForbidden, st.User.Username, a.opts.Resource, a.opts.Namespace)
	}
	return st.User.Username, nil
}

// Authorize is the hub's check of one request: the token in Header, or
// else in Authorization: Bearer (a client reaching the hub without the
// service proxy, e.g. through a port-forward). The error has an HTTPStatus
// method: 401 for a missing or rejected token, 403 for RBAC, 503 when the
// reviews could not be made.
func (a *Authenticator) Authorize(r *http.Request) error {
	tok := r.Header.Get(Header)
	if tok == "" {
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			tok = b
		}
	}
	user, err := a.Check(r.Context(), tok)
	if err != nil {
		if !errors.Is(err, ErrNoToken) {
			a.opts.Logger.Info("request refused", "path", r.URL.Path, "err", err)
		}
		return &statusError{err}
	}
	a.opts.Logger.Debug("request authorized", "user", user, "path", r.URL.Path)
	return nil
}

type statusError struct{ error }

func (e *statusError) Unwrap() error { return e.error }

// HTTPStatus is the status the hub answers with.
func (e *statusError) HTTPStatus() int {
	switch {
	case errors.Is(e.error, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(e.error, ErrReview):
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}
