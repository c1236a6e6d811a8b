package templates

import (
	"fmt"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// TestSetLearnsPerServer learns paths and Redis keys of several servers at
// once: each server's own values make its parameters, the HTTP versions of
// one server share them, and a path the set never saw keeps its shape.
func TestSetLearnsPerServer(t *testing.T) {
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"}
	games := []string{"chess", "go", "poker", "bridge", "hearts", "spades", "tetris", "snake"}
	var l Learner
	rec := func(proto, ip string, port uint16, path string) *sdk.Record {
		return &sdk.Record{Protocol: proto, Path: path, Dst: sdk.Endpoint{IP: ip, Port: port}}
	}
	for i, u := range users {
		proto := "http"
		if i%2 == 1 {
			proto = "http2"
		}
		l.AddRecord(rec(proto, "10.0.0.9", 8080, "/users/"+u+"?fields=name"))
		l.AddRecord(rec("http", "10.0.0.9", 8080, fmt.Sprintf("/users/%s/orders/%d", u, 1000+i)))
		// The same words on another server are only two values there.
		if i < 2 {
			l.AddRecord(rec("http", "10.0.0.7", 80, "/users/"+u))
		}
	}
	for _, g := range games {
		l.AddRecord(rec("redis", "10.0.0.90", 6379, "lb:weekly:"+g))
		l.AddRecord(rec("redis", "10.0.0.90", 6379, "session:"+g+"-player"))
	}
	l.AddRecord(rec("redis", "10.0.0.90", 6379, "config"))
	l.AddRecord(rec("dns", "10.0.0.53", 53, "alice.example.com"))
	set := l.Learn()

	tests := []struct {
		proto, ip string
		port      uint16
		path      string
		want      string
	}{
		{"http", "10.0.0.9", 8080, "/users/alice", "/users/{param}"},
		{"http2", "10.0.0.9", 8080, "/users/judy?x=1", "/users/judy"}, // never seen: its shape
		{"http2", "10.0.0.9", 8080, "/users/bob", "/users/{param}"},
		{"http", "10.0.0.9", 8080, "/users/carol/orders/77", "/users/{param}/orders/{id}"},
		{"websocket", "10.0.0.9", 8080, "/users/dave", "/users/{param}"},
		{"http", "10.0.0.7", 80, "/users/alice", "/users/alice"},
		{"http", "10.0.0.9", 9090, "/users/alice", "/users/alice"}, // another port, another server
		{"redis", "10.0.0.90", 6379, "lb:weekly:poker", "lb:weekly:{param}"},
		{"redis", "10.0.0.90", 6379, "session:go-player", "session:{param}"},
		{"redis", "10.0.0.90", 6379, "config", "config"},
		{"redis", "10.0.0.90", 6379, "user:12345", "user:{id}"}, // shaped without learning
		{"dns", "10.0.0.53", 53, "alice.example.com", "alice.example.com"},
		{"grpc", "10.0.0.9", 8080, "/orders.v1.Orders/Get", "/orders.v1.Orders/Get"},
	}
	for _, tt := range tests {
		if got := set.Of(tt.proto, tt.ip, tt.port, tt.path); got != tt.want {
			t.Errorf("Of(%s, %s:%d, %q) = %q, want %q", tt.proto, tt.ip, tt.port, tt.path, got, tt.want)
		}
	}
	var none *Set
	if got := none.Of("redis", "10.0.0.90", 6379, "user:42:cart"); got != "user:{id}:cart" {
		t.Errorf("nil set: %q, want the shape user:{id}:cart", got)
	}
	if set.Servers() != 3 {
		t.Errorf("learned %d servers, want 3 (two HTTP, one Redis)", set.Servers())
	}
}

// TestLearnKeysOnRealKeySets holds LearnKeys against key layouts of real
// Redis users: Sidekiq, Rails cache and Laravel sessions, rate limiters.
func TestLearnKeysOnRealKeySets(t *testing.T) {
	var keys []string
	queues := []string{"default", "mailers", "critical"}
	names := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	for _, q := range queues {
		keys = append(keys, "queue:"+q) // Sidekiq: three queues stay words
	}
	for i, n := range names {
		keys = append(keys,
			"session:"+n,
			"rate_limit:login:"+n,
			fmt.Sprintf("views/products/%d-2024", i), // Rails fragment cache: no ':' to split
			"cache:user:"+n+":avatar",
		)
	}
	shaped := map[string]bool{}
	var in []string
	for _, k := range keys {
		s := Template("redis", k)
		if !shaped[s] {
			shaped[s] = true
			in = append(in, s)
		}
	}
	got := map[string]int{}
	m := LearnKeys(in)
	for _, k := range keys {
		got[m[Template("redis", k)]]++
	}
	want := map[string]int{
		"queue:default": 1, "queue:mailers": 1, "queue:critical": 1,
		"session:{param}":           8,
		"rate_limit:login:{param}":  8,
		"cache:user:{param}:avatar": 8,
		"views/products/{id}":       8,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("templates:\n got %v\nwant %v", got, want)
	}
}

// TestSetOnStripeShapedPaths: Stripe's REST API names objects by prefixed
// ids (cus_…, ch_…, pi_…) that are neither numbers nor UUIDs; its route
// words (customers, charges, capture, sources) stay words.
func TestSetOnStripeShapedPaths(t *testing.T) {
	cus := []string{"cus_NffrFeUfNV2Hib", "cus_OaZnLgP4pCbq7e", "cus_Pq1xYz9KdLmn3B", "cus_Qr8sTu2VwXy5Zc", "cus_Rb3cDe6FgHi9Jk"}
	ch := []string{"ch_3MmlLrLkdIwHu7ix0snN0B15", "ch_3NnmMsMleJxIv8jy1toO1C26", "ch_3OonNtNmfKyJw9kz2upP2D37", "ch_3PpoOuOngLzKx0la3vqQ3E48"}
	var l Learner
	add := func(p string) { l.Add("http", "10.0.0.44", 443, p) }
	for _, c := range cus {
		add("/v1/customers/" + c)
		add("/v1/customers/" + c + "/sources")
	}
	for _, c := range ch {
		add("/v1/charges/" + c)
		add("/v1/charges/" + c + "/capture")
	}
	for _, p := range []string{"/v1/customers", "/v1/charges", "/v1/balance", "/v1/events"} {
		add(p)
	}
	set := l.Learn()
	for path, want := range map[string]string{
		"/v1/customers/cus_OaZnLgP4pCbq7e":                "/v1/customers/{param}",
		"/v1/customers/cus_Rb3cDe6FgHi9Jk/sources":        "/v1/customers/{param}/sources",
		"/v1/charges/ch_3MmlLrLkdIwHu7ix0snN0B15":         "/v1/charges/{token}",
		"/v1/charges/ch_3PpoOuOngLzKx0la3vqQ3E48/capture": "/v1/charges/{token}/capture",
		"/v1/balance":   "/v1/balance",
		"/v1/customers": "/v1/customers",
	} {
		if got := set.Of("http", "10.0.0.44", 443, path); got != want {
			t.Errorf("%s → %q, want %q", path, got, want)
		}
	}
}

// A set survives its encoding: every server's templates, and a path it
// never saw still gets its shape.
func TestSetRoundTrip(t *testing.T) {
	var l Learner
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"} {
		l.Add("http", "10.0.0.9", 8080, "/users/"+u)
		l.Add("redis", "cache", 6379, "GET user:"+u)
	}
	set := l.Learn()
	b, err := set.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Set
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		proto, host string
		port        uint16
		path        string
	}{
		{"http", "10.0.0.9", 8080, "/users/alice"},
		{"redis", "cache", 6379, "GET user:bob"},
		{"http", "10.0.0.9", 8080, "/orders/7"},
	} {
		if w, g := set.Of(c.proto, c.host, c.port, c.path), got.Of(c.proto, c.host, c.port, c.path); w != g {
			t.Errorf("%s %s: %q after the round trip, want %q", c.proto, c.path, g, w)
		}
	}
	if got.Servers() != set.Servers() || set.Servers() != 2 {
		t.Errorf("servers: %d after the round trip, %d before, want 2", got.Servers(), set.Servers())
	}
	if err := got.UnmarshalBinary([]byte("{")); err == nil {
		t.Error("a damaged encoding decoded")
	}
}
