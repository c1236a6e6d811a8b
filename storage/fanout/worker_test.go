package fanout

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// The routes that answer once: status, content type and body for what the
// store gives, what it refuses and a store that will not open.
func TestWorkerAnswers(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	rec := &sdk.Record{Protocol: "http", Timestamp: t0, Method: "GET", Path: "/a", Status: 200}
	if err := st.Put(ctx, []*sdk.Record{rec}); err != nil {
		t.Fatal(err)
	}
	page, err := st.Query(ctx, storage.Query{})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("query: %v", err)
	}
	id := page.Records[0].ID
	wh, err := WorkerHandler(WorkerOptions{Node: "n1", Store: FixedStore(st)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wh)
	defer srv.Close()
	closed, err := WorkerHandler(WorkerOptions{Node: "n2", Store: func(context.Context) (*storage.Store, func(), error) {
		return nil, nil, errors.New("disk gone")
	}})
	if err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(closed)
	defer down.Close()

	for _, c := range []struct {
		name, url, method, path, body string
		status                        int
		ctype, want                   string
	}{
		{"a record", srv.URL, "GET", pathRecord + id, "", 200, streamType, "/a"},
		{"no such record", srv.URL, "GET", pathRecord + "01ZZZZZZZZZZZZZZZZZZZZZZZZ", "", 404, "application/json", `"error"`},
		{"a bad id", srv.URL, "GET", pathRecord + "x", "", 404, "application/json", "bad record id"},
		{"no such flow", srv.URL, "GET", pathFlow + "nope", "", 404, "application/json", `"error"`},
		{"summary", srv.URL, "GET", pathSummary, "", 200, "application/json", `"node":"n1"`},
		{"bounds", srv.URL, "GET", pathSummary + "?only=bounds", "", 200, "application/json", `"first":"2026-12-06T07:00:00Z"`},
		{"epochs", srv.URL, "POST", pathEpochs, `{"from":"2026-12-06T06:00:00Z","to":"2026-12-06T08:00:00Z"}`, 200, "application/json", `"epochs":{`},
		{"epochs, a bad body", srv.URL, "POST", pathEpochs, `{`, 400, "application/json", "request body: "},
		{"disable", srv.URL, "PUT", pathDisabled, `{"names":["redis"]}`, 204, "", ""},
		{"disabled, in the summary", srv.URL, "GET", pathSummary, "", 200, "application/json", `"disabled":["redis"]`},
		{"disable, a bad body", srv.URL, "PUT", pathDisabled, `[`, 400, "application/json", "request body: "},
		{"a store that will not open", down.URL, "GET", pathSummary, "", 503, "application/json", "node n2: open the store: disk gone"},
		{"a store that will not open, with a body", down.URL, "POST", pathEpochs, `{}`, 503, "application/json", "node n2: open the store"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, c.url+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != c.status || res.Header.Get("Content-Type") != c.ctype || !strings.Contains(string(b), c.want) {
				t.Errorf("%s %s: %d %q %q, want %d %q containing %q", c.method, c.path, res.StatusCode, res.Header.Get("Content-Type"), b, c.status, c.ctype, c.want)
			}
		})
	}
}

// nsResolver names every end as a pod of namespace shop, whose labels say
// which team owns it: what a worker's workload history gives.
type nsResolver struct{}

func (nsResolver) ResolveEndpoint(e *sdk.Endpoint, _ uint64, _ time.Time) {
	e.Namespace = "shop"
	e.K8s = &sdk.K8s{Pod: "pod-" + e.IP, Labels: map[string]string{"app": "web"}, NamespaceLabels: map[string]string{"team": "payments"}}
}

func (nsResolver) Generation() uint64 { return 1 }

// The names a worker resolves reach the hub with its records and flows,
// labels of the namespace included.
func TestWorkerNamesReachTheHub(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	if err := st.Put(ctx, []*sdk.Record{{Protocol: "http", Timestamp: t0, Stream: "f1", Method: "GET", Path: "/a", Status: 200,
		Src: sdk.Endpoint{IP: "10.244.1.1", Port: 40000}, Dst: sdk.Endpoint{IP: "10.244.1.2", Port: 80}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutFlows(ctx, []*sdk.Flow{{ID: "f1", Transport: "tcp", Start: t0, End: t0.Add(time.Second), State: "closed",
		Client: sdk.Endpoint{IP: "10.244.1.1", Port: 40000}, Server: sdk.Endpoint{IP: "10.244.1.2", Port: 80}}}); err != nil {
		t.Fatal(err)
	}
	st.SetResolver(nsResolver{})
	h, err := WorkerHandler(WorkerOptions{Node: "n1", Store: FixedStore(st)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	cl, err := New(Options{Discovery: Static{{Node: "n1", URL: srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	named := func(what string, e sdk.Endpoint) {
		t.Helper()
		if e.K8s == nil || e.Pod != "pod-"+e.IP || e.Namespace != "shop" || e.Labels["app"] != "web" || e.NamespaceLabels["team"] != "payments" {
			t.Errorf("%s at the hub: %+v %+v", what, e, e.K8s)
		}
	}
	page, err := cl.Query(ctx, storage.Query{})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("query: %v (%d records)", err, len(page.Records))
	}
	named("a queried record's client", page.Records[0].Src)
	named("a queried record's server", page.Records[0].Dst)
	rec, err := cl.Get(ctx, page.Records[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	named("a record got by id", rec.Dst)
	flows, err := cl.Flows(ctx, storage.FlowQuery{})
	if err != nil || len(flows.Flows) != 1 {
		t.Fatalf("flows: %v (%d)", err, len(flows.Flows))
	}
	named("a flow's client", flows.Flows[0].Client)
	named("a flow's server", flows.Flows[0].Server)
}
