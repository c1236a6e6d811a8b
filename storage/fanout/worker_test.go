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
