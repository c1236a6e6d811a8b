package templates

import (
	"crypto/sha1"
	"fmt"
	"testing"
)

// learnAll runs Template then LearnTemplates, as the analyses do, and returns
// the distinct templates with how many paths each took.
func learnAll(proto string, paths []string) map[string]int {
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
	got := learnAll("http", gh)
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
	got = learnAll("http", k8s)
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
	got = learnAll("http", shop)
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
