package kfl

import (
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage/templates"
)

// TestTemplateVariables: template, path_template and endpoint read a call's
// shape alone without learned templates, and the learned template of its
// server once the program has them.
func TestTemplateVariables(t *testing.T) {
	env := testEnv(t)
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	var l templates.Learner
	recs := map[string]*sdk.Record{}
	for _, u := range users {
		r := &sdk.Record{Protocol: "http", Method: "GET", Path: "/users/" + u + "?v=1", Dst: sdk.Endpoint{IP: "10.0.0.9", Port: 8080}}
		l.AddRecord(r)
		recs[u] = r
	}
	key := &sdk.Record{Protocol: "redis", Method: "GET", Path: "user:12345", Dst: sdk.Endpoint{IP: "10.0.0.90", Port: 6379}}
	num := &sdk.Record{Protocol: "http", Method: "DELETE", Path: "/orders/991", Dst: sdk.Endpoint{IP: "10.0.0.9", Port: 8080}}
	set := l.Learn()

	tests := []struct {
		expr    string
		r       *sdk.Record
		learned bool
		want    bool
	}{
		{`template == "/users/{param}"`, recs["alice"], true, true},
		{`template == "/users/{param}"`, recs["alice"], false, false},
		{`template == "/users/alice"`, recs["alice"], false, true},
		{`path_template == "/users/{param}"`, recs["bob"], true, true},
		{`endpoint == "GET /users/{param}"`, recs["carol"], true, true},
		{`template == "/orders/{id}"`, num, false, true},
		{`endpoint == "DELETE /orders/{id}"`, num, true, true},
		{`redis && endpoint == "GET user:{id}"`, key, true, true},
		{`template.startsWith("/users/")`, key, true, false},
	}
	for _, tt := range tests {
		p, err := env.Compile(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if !p.ReadsTemplates() {
			t.Errorf("%s: ReadsTemplates false", tt.expr)
		}
		if tt.learned {
			p.SetTemplates(set)
		}
		got, err := p.Match(tt.r)
		if err != nil || got != tt.want {
			t.Errorf("%s on %s (learned %v) = %v, %v; want %v", tt.expr, tt.r.Path, tt.learned, got, err, tt.want)
		}
	}
	if p := env.MustCompile(`path == "/users/alice"`); p.ReadsTemplates() {
		t.Error("a filter on path says it reads templates")
	}
}
