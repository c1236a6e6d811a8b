package analysis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Bounds and defaults for FindUnauthenticated.
const (
	DefaultUnauthLimit    = 20
	MaxUnauthLimit        = 200
	DefaultUnauthExamples = 5
	MaxUnauthExamples     = 20
	// DefaultMinAuthShare: "most calls carry credentials" means more than
	// half.
	DefaultMinAuthShare = 0.5
)

// authHeaders carry credentials; their presence, not their validity,
// makes a call authenticated.
var authHeaders = []string{
	"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "apikey", "x-apikey",
	"x-auth-token", "x-access-token", "x-api-token", "private-token", "x-goog-api-key",
	"ocp-apim-subscription-key", "x-amz-security-token", "x-csrf-token", "x-xsrf-token",
}

// authParams carry credentials in the query string (presigned URLs, API
// keys in links).
var authParams = []string{"api_key", "apikey", "api-key", "access_token", "auth_token", "token", "key", "x-amz-signature", "x-amz-credential", "signature", "sig"}

// UnauthQuery selects what FindUnauthenticated checks.
type UnauthQuery struct {
	Window Window
	Match  storage.Matcher
	// MinAuthShare: an endpoint is reported when more than this share of
	// its calls carry credentials and some do not. 0 means
	// DefaultMinAuthShare.
	MinAuthShare float64
	// MinCalls is the traffic an endpoint needs to be judged: 0 means
	// DefaultMinCalls.
	MinCalls int
	// Limit is how many endpoints to list: 0 means DefaultUnauthLimit; at
	// most MaxUnauthLimit.
	Limit int
	// Examples is how many calls without credentials to list per
	// endpoint: 0 means DefaultUnauthExamples; at most MaxUnauthExamples.
	Examples int
}

// UnauthCall is a call that carried no credentials.
type UnauthCall struct {
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	Client    string    `json:"client"`
	Status    int       `json:"status"`
	// Accepted says the server answered without a failure or a 4xx: the
	// call probably got through.
	Accepted bool `json:"accepted"`
	// Path is the raw path, query string included, cut to 200 bytes.
	Path string `json:"path"`
}

// UnauthEndpoint is an endpoint where most calls carry credentials but
// some do not.
type UnauthEndpoint struct {
	Group
	Calls              int     `json:"calls"`
	WithCredentials    int     `json:"with_credentials"`
	WithoutCredentials int     `json:"without_credentials"`
	AuthShare          float64 `json:"auth_share"`
	// UnauthAccepted counts calls without credentials that were
	// answered without a failure or a 4xx status.
	UnauthAccepted int `json:"unauth_accepted"`
	// Credentials names what the authenticated calls carried: header
	// names (lower case) or "query:<param>".
	Credentials []string     `json:"credentials"`
	Examples    []UnauthCall `json:"examples"`
}

// UnauthResult is what FindUnauthenticated returns.
type UnauthResult struct {
	Window    Window           `json:"window"`
	Endpoints []UnauthEndpoint `json:"endpoints"`
	// EndpointsChecked counts the HTTP-family endpoints with enough calls.
	EndpointsChecked int    `json:"endpoints_checked"`
	Truncated        bool   `json:"truncated"`
	Summary          string `json:"summary"`
}

type unauthAgg struct {
	key                   groupKey
	calls, authed, unauth int
	accepted              int
	creds                 []string
	examples              []UnauthCall
}

// FindUnauthenticated finds HTTP-family endpoints (http, http2, grpc,
// templated as in Stats) where most calls carry credentials (an
// Authorization, Cookie, X-Api-Key, ... header, or a token in the query
// string) but some do not, and lists those calls. Such calls are either
// rejected (harmless) or a hole in the server's checks; UnauthAccepted
// tells which, and the endpoints where they got through rank first. It
// reads headers, not bodies.
func FindUnauthenticated(ctx context.Context, src Source, q UnauthQuery) (UnauthResult, error) {
	if err := q.Window.check(); err != nil {
		return UnauthResult{}, err
	}
	share := q.MinAuthShare
	if share <= 0 {
		share = DefaultMinAuthShare
	}
	if share >= 1 {
		return UnauthResult{}, fmt.Errorf("%w: min_auth_share %v must be below 1", ErrBadQuery, share)
	}
	minCalls := q.MinCalls
	if minCalls <= 0 {
		minCalls = DefaultMinCalls
	}
	examples := capLimit(q.Examples, DefaultUnauthExamples, MaxUnauthExamples)
	tmpl := newTemplater()
	groups := map[groupKey]*unauthAgg{}
	untracked := false
	err := scan(ctx, src, q.Window, q.Match, false, func(r *sdk.Record) bool {
		if !isHTTPFamily(r.Protocol) || r.Request == nil {
			return true
		}
		k := groupKey{proto: r.Protocol, method: r.Method, path: tmpl.get(r.Protocol, r.Path), srv: nodeOf(&r.Dst), port: r.Dst.Port}
		g := groups[k]
		if g == nil {
			if len(groups) >= maxGroups {
				untracked = true
				return true
			}
			g = &unauthAgg{key: k}
			groups[k] = g
		}
		g.calls++
		if cred := credentialOf(r); cred != "" {
			g.authed++
			g.creds = addLabel(g.creds, cred, maxEdgeLabels)
			return true
		}
		g.unauth++
		accepted := hasResponse(r) && !r.Failed && r.Status < 400
		if accepted {
			g.accepted++
		}
		// Keep accepted calls as examples in preference: they are the
		// ones that matter.
		c := UnauthCall{ID: r.ID, Timestamp: r.Timestamp.UTC(), Client: nodeOf(&r.Src).String(), Status: r.Status, Accepted: accepted, Path: clip(r.Path, maxPathShown)}
		switch {
		case len(g.examples) < examples:
			g.examples = append(g.examples, c)
		case accepted:
			if i := slices.IndexFunc(g.examples, func(x UnauthCall) bool { return !x.Accepted }); i >= 0 {
				g.examples[i] = c
			}
		}
		return true
	})
	if err != nil {
		return UnauthResult{}, fmt.Errorf("analysis: find unauthenticated calls: %w", err)
	}
	res := UnauthResult{Window: q.Window, Endpoints: []UnauthEndpoint{}, Truncated: untracked}
	for _, g := range groups {
		if g.calls < minCalls {
			continue
		}
		res.EndpointsChecked++
		s := ratio(g.authed, g.calls)
		if g.unauth == 0 || s <= share {
			continue
		}
		slices.Sort(g.creds)
		slices.SortFunc(g.examples, func(a, b UnauthCall) int { return a.Timestamp.Compare(b.Timestamp) })
		res.Endpoints = append(res.Endpoints, UnauthEndpoint{
			Group: g.key.group(ByEndpoint), Calls: g.calls, WithCredentials: g.authed, WithoutCredentials: g.unauth,
			AuthShare: round(s, 4), UnauthAccepted: g.accepted, Credentials: g.creds, Examples: g.examples,
		})
	}
	slices.SortFunc(res.Endpoints, func(a, b UnauthEndpoint) int {
		return cmp.Or(b.UnauthAccepted-a.UnauthAccepted, b.WithoutCredentials-a.WithoutCredentials, strings.Compare(a.Key, b.Key))
	})
	limit := capLimit(q.Limit, DefaultUnauthLimit, MaxUnauthLimit)
	if len(res.Endpoints) > limit {
		res.Endpoints, res.Truncated = res.Endpoints[:limit], true
	}
	res.Summary = unauthSummary(res)
	return res, nil
}

func isHTTPFamily(p string) bool { return p == "http" || p == "http2" || p == "grpc" }

// credentialOf names the first credential r's request carries, "" for
// none.
func credentialOf(r *sdk.Record) string {
	for _, h := range r.Request.Headers {
		if strings.TrimSpace(h.Value) == "" {
			continue
		}
		for _, a := range authHeaders {
			if strings.EqualFold(h.Name, a) {
				return a
			}
		}
	}
	_, query, ok := strings.Cut(r.Path, "?")
	if !ok {
		return ""
	}
	query, _, _ = strings.Cut(query, "#")
	for _, kv := range strings.FieldsFunc(query, func(c rune) bool { return c == '&' || c == ';' }) {
		name, v, _ := strings.Cut(kv, "=")
		if v == "" {
			continue
		}
		for _, a := range authParams {
			if strings.EqualFold(name, a) {
				return "query:" + a
			}
		}
	}
	return ""
}

func unauthSummary(r UnauthResult) string {
	if len(r.Endpoints) == 0 {
		return fmt.Sprintf("no endpoint mixes calls with and without credentials (%d HTTP-family endpoints checked)", r.EndpointsChecked)
	}
	accepted := 0
	for _, e := range r.Endpoints {
		accepted += e.UnauthAccepted
	}
	e := r.Endpoints[0]
	return fmt.Sprintf("%d of %d HTTP-family endpoints mostly carry credentials but got calls without (%d of those accepted); first %s: %d of %d calls without credentials (%d accepted)",
		len(r.Endpoints), r.EndpointsChecked, accepted, e.Key, e.WithoutCredentials, e.Calls, e.UnauthAccepted)
}
