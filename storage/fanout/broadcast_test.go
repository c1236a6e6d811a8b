package fanout

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Broadcast sends the request to every worker with the workers' token and
// reports each node as it answered: taken, refused with its own message,
// unreachable, or unavailable before being asked.
func TestBroadcast(t *testing.T) {
	const token = "workers-token"
	var mu sync.Mutex
	var gotBodies []string
	worker := func(status int, answer string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token || r.Method != http.MethodPost || r.URL.Path != "/api/plugins" {
				http.Error(w, "unexpected "+r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"), http.StatusTeapot)
				return
			}
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			gotBodies = append(gotBodies, string(b))
			mu.Unlock()
			w.WriteHeader(status)
			io.WriteString(w, answer)
		}))
		t.Cleanup(s.Close)
		return s
	}
	ok := worker(http.StatusOK, `{"installed":{"name":"p"}}`)
	refused := worker(http.StatusForbidden, `{"error":"this hub is read-only"}`)
	gone := worker(http.StatusOK, "")
	gone.Close()
	c, err := New(Options{Discovery: Static{
		{Node: "a", URL: ok.URL},
		{Node: "b", URL: refused.URL},
		{Node: "c", URL: gone.URL},
		{Node: "d", Unavailable: "pod pending"},
	}, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := c.Broadcast(context.Background(), http.MethodPost, "/api/plugins", map[string]string{"module": "AA=="})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		node   string
		ok     bool
		status int
		body   string
		err    string
	}{
		{"a", true, 200, `{"installed":{"name":"p"}}`, ""},
		{"b", false, 403, "", "this hub is read-only"},
		{"c", false, 0, "", "connection refused"},
		{"d", false, 0, "", "pod pending"},
	} {
		a := ans[i]
		if a.Node != tc.node || a.OK() != tc.ok || a.Status != tc.status || string(a.Body) != tc.body || !strings.Contains(a.Error, tc.err) || (tc.err == "" && a.Error != "") {
			t.Errorf("node %s: %+v, want %+v", tc.node, a, tc)
		}
	}
	if len(gotBodies) != 2 || gotBodies[0] != `{"module":"AA=="}` || gotBodies[1] != gotBodies[0] {
		t.Errorf("bodies the workers got: %q", gotBodies)
	}
	if _, err := (&Cluster{opts: Options{Discovery: Static{}}}).Broadcast(context.Background(), http.MethodGet, "/api/plugins", nil); !errors.Is(err, ErrNoWorkers) {
		t.Errorf("no workers: %v", err)
	}
}
