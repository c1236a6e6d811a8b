package analysis

import (
	"context"
	"crypto/sha1"
	"fmt"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// learn runs Template then LearnTemplates, as the analyses do, and returns
// the distinct templates with how many paths each took.
func learn(proto string, paths []string) map[string]int {
	var tpl []string
	seen := map[string]bool{}
	for _, p := range paths {
		t := Template(proto, p)
		if !seen[t] {
			seen[t] = true
			tpl = append(tpl, t)
		}
	}
	m := LearnTemplates(tpl)
	out := map[string]int{}
	for _, p := range paths {
		out[m[Template(proto, p)]]++
	}
	return out
}

func TestLearnTemplatesOnRealAPIPathSets(t *testing.T) {
	// Paths shaped like GitHub's REST API (docs.github.com/rest): owners,
	// repositories and users are names, not numbers.
	owners := []string{"kubernetes", "golang", "torvalds", "rust-lang", "nodejs", "python", "facebook", "microsoft", "google", "apple", "hashicorp", "grafana"}
	repos := []string{"kubernetes", "go", "linux", "rust", "node", "cpython", "react", "vscode", "guava", "swift", "terraform", "loki"}
	var gh []string
	for i, o := range owners {
		gh = append(gh,
			fmt.Sprintf("/repos/%s/%s", o, repos[i]),
			fmt.Sprintf("/repos/%s/%s/issues", o, repos[i]),
			fmt.Sprintf("/repos/%s/%s/issues/%d", o, repos[i], 1000+i),
			fmt.Sprintf("/repos/%s/%s/pulls?state=open", o, repos[i]),
			fmt.Sprintf("/repos/%s/%s/commits/%x", o, repos[i], sha1.Sum([]byte(o))),
			fmt.Sprintf("/users/%s", o),
			fmt.Sprintf("/orgs/%s/members", o),
		)
	}
	gh = append(gh, "/rate_limit", "/user", "/user/repos", "/search/repositories?q=mcp")
	got := learn("http", gh)
	for tpl, n := range map[string]int{
		"/repos/{param}/{param}":                12,
		"/repos/{param}/{param}/issues":         12,
		"/repos/{param}/{param}/issues/{id}":    12,
		"/repos/{param}/{param}/pulls":          12,
		"/repos/{param}/{param}/commits/{hash}": 12,
		"/users/{param}":                        12,
		"/orgs/{param}/members":                 12,
		"/rate_limit":                           1,
		"/user":                                 1,
		"/user/repos":                           1,
		"/search/repositories":                  1,
	} {
		if got[tpl] != n {
			t.Errorf("GitHub: %s took %d paths, want %d; all: %v", tpl, got[tpl], n, got)
		}
	}
	if len(got) != 11 {
		t.Errorf("GitHub: %d templates, want 11: %v", len(got), got)
	}

	// Paths shaped like the Kubernetes API: a few namespaces and resource
	// types are words to keep; pod and deployment names are parameters.
	var k8s []string
	for _, ns := range []string{"default", "kube-system", "payments"} {
		for _, res := range []string{"pods", "services", "configmaps", "secrets", "endpoints", "events"} {
			k8s = append(k8s, "/api/v1/namespaces/"+ns+"/"+res)
		}
		for i := 0; i < 5; i++ {
			k8s = append(k8s, fmt.Sprintf("/api/v1/namespaces/%s/pods/checkout-7d4b9c%02d-x2k4p", ns, i))
			k8s = append(k8s, fmt.Sprintf("/apis/apps/v1/namespaces/%s/deployments/web-%d", ns, i))
		}
	}
	k8s = append(k8s, "/api/v1/nodes", "/apis/networking.k8s.io/v1/ingresses", "/apis/batch/v1/jobs", "/apis/apps/v1/deployments", "/healthz", "/version")
	got = learn("http", k8s)
	for tpl, n := range map[string]int{
		"/api/v1/namespaces/default/pods":                      1,
		"/api/v1/namespaces/payments/secrets":                  1,
		"/api/v1/namespaces/kube-system/events":                1,
		"/api/v1/namespaces/default/pods/{param}":              5,
		"/api/v1/namespaces/payments/pods/{param}":             5,
		"/apis/apps/v1/namespaces/default/deployments/{param}": 5,
		"/apis/networking.k8s.io/v1/ingresses":                 1,
		"/apis/batch/v1/jobs":                                  1,
		"/api/v1/nodes":                                        1,
	} {
		if got[tpl] != n {
			t.Errorf("Kubernetes: %s took %d paths, want %d; all: %v", tpl, got[tpl], n, got)
		}
	}

	// The examples: identifiers that are neither numbers nor UUIDs.
	var shop []string
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"} {
		shop = append(shop, "/users/"+u)
	}
	for _, c := range []string{"c-7f3a", "c-91b2", "c-0a4e", "c-55d1"} {
		shop = append(shop, "/cart/"+c, "/cart/"+c+"/items")
	}
	for _, f := range []string{"report-2024.pdf", "report-2025.pdf", "invoice-17.pdf", "invoice-18.pdf"} {
		shop = append(shop, "/files/"+f)
	}
	shop = append(shop, "/users/me/settings", "/api/v1/health", "/api/v2/health")
	got = learn("http", shop)
	for tpl, n := range map[string]int{
		"/users/{param}":          12,
		"/users/{param}/settings": 1,
		"/cart/{param}":           4,
		"/cart/{param}/items":     4,
		"/files/{param}":          4,
		"/api/v1/health":          1, // two versions are route words
		"/api/v2/health":          1,
	} {
		if got[tpl] != n {
			t.Errorf("shop: %s took %d paths, want %d; all: %v", tpl, got[tpl], n, got)
		}
	}
}

// TestLearnedTemplatesGroupAFailingDependency is the case: a
// profile service whose user paths carry names fails; stats, compare and
// anomalies show one endpoint /users/{param} with every call, not one row
// per user, and the figures of the merged row are those of all its calls.
func TestLearnedTemplatesGroupAFailingDependency(t *testing.T) {
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"}
	var recs []*sdk.Record
	n := 0
	for minute := 0; minute < 10; minute++ {
		for i, u := range users {
			failing := minute >= 5
			c := call{at: time.Duration(minute)*time.Minute + time.Duration(i)*time.Second, src: "10.0.0.5", dst: "10.0.0.9:8080",
				method: "GET", path: "/users/" + u + "?fields=name", status: 200, ms: 10}
			if failing {
				c.status, c.failed, c.ms = 503, true, 250
			}
			recs = append(recs, c.rec())
			n++
		}
		// A route with few word values stays apart.
		for _, p := range []string{"/health", "/ready"} {
			recs = append(recs, call{at: time.Duration(minute) * time.Minute, src: "10.0.0.5", dst: "10.0.0.9:8080", method: "GET", path: p, status: 200, ms: 1}.rec())
		}
	}
	st := openStore(t, recs)
	ctx := context.Background()

	stats, err := Stats(ctx, st, StatsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]GroupStats{}
	for _, g := range stats.Groups {
		rows[g.Path] = g
	}
	u := rows["/users/{param}"]
	if len(stats.Groups) != 3 || u.Count != n || u.Errors != n/2 || u.Latency.Max != 250 || u.Latency.P50 != 10 {
		t.Fatalf("stats: %d groups (%v); /users/{param}: %d calls, %d errors, p50 %v max %v; want 3 groups and %d calls, %d errors", len(stats.Groups), stats.Summary, u.Count, u.Errors, u.Latency.P50, u.Latency.Max, n, n/2)
	}

	half := Window{Start: t0, End: t0.Add(5 * time.Minute)}
	rest := Window{Start: t0.Add(5 * time.Minute), End: t0.Add(10 * time.Minute)}
	cmp, err := Compare(ctx, st, CompareQuery{A: half, B: rest})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Compared != 3 || cmp.Rows[0].Path != "/users/{param}" || cmp.Rows[0].B.ErrorRate != 1 {
		t.Fatalf("compare: %d rows, first %s (error rate %v): %s", cmp.Compared, cmp.Rows[0].Path, cmp.Rows[0].B.ErrorRate, cmp.Summary)
	}

	an, err := Anomalies(ctx, st, AnomalyQuery{Baseline: half, Target: rest})
	if err != nil {
		t.Fatal(err)
	}
	endpoints := map[string]bool{}
	for _, a := range an.Anomalies {
		endpoints[a.Key] = true
	}
	if len(endpoints) != 1 || an.Anomalies[0].Path != "/users/{param}" || len(an.Anomalies[0].ExampleIDs) == 0 || len(an.RootCauses) != 1 {
		t.Fatalf("anomalies: %d endpoints (%v), want one, /users/{param}, with examples: %s", len(endpoints), endpoints, an.Summary)
	}
}
