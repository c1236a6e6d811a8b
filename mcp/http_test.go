package mcp_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
)

// startHub serves f's store through the hub on a real loopback listener.
func startHub(t *testing.T, f *fixture) (base, token string) {
	t.Helper()
	tok, created, err := hub.LoadOrCreateToken(f.dir)
	if err != nil || !created {
		t.Fatalf("token: %v created=%v", err, created)
	}
	info, err := os.Stat(filepath.Join(f.dir, hub.TokenFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, %v; want 0600", info.Mode().Perm(), err)
	}
	again, created, err := hub.LoadOrCreateToken(f.dir)
	if err != nil || created || again != tok {
		t.Fatal("a second start generated a new token")
	}
	h, err := hub.Handler(hub.Options{Server: f.server(t, false), Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, tok
}

func get(t *testing.T, u, token string, into any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("GET %s: %v\n%s", u, err, b)
		}
	}
	return resp.StatusCode
}

func TestHubJSONAPI(t *testing.T) {
	f := newFixture(t)
	base, tok := startHub(t, f)

	var e struct{ Error string }
	if code := get(t, base+"/api/calls", "", &e); code != 401 || !strings.Contains(e.Error, "bearer token") {
		t.Fatalf("no token: %d %q", code, e.Error)
	}
	if code := get(t, base+"/api/calls", strings.Repeat("0", 64), &e); code != 401 || !strings.Contains(e.Error, "wrong") {
		t.Fatalf("wrong token: %d %q", code, e.Error)
	}
	req, _ := http.NewRequest("POST", base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("/mcp without token: %d", resp.StatusCode)
	}
	if code := get(t, base+"/healthz", "", nil); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}

	var list mcp.ListCallsResult
	q := url.Values{"kfl": {"status_code == 503"}, "limit": {"1000"}}
	if code := get(t, base+"/api/calls?"+q.Encode(), tok, &list); code != 200 || list.Returned != f.stats.Statuses[503] {
		t.Fatalf("/api/calls: %d, %d calls, want %d", code, list.Returned, f.stats.Statuses[503])
	}
	var one mcp.GetCallResult
	if code := get(t, base+"/api/calls/"+list.Calls[0].ID, tok, &one); code != 200 || one.Call.Status != 503 {
		t.Fatalf("/api/calls/{id}: %d %+v", code, one.Call)
	}
	for path, want := range map[string]int{
		"/api/calls/01ARZ3NDEKTSV4RRFFQ69G5FAV":              404,
		"/api/calls?kfl=" + url.QueryEscape("status_code >"): 400,
		"/api/calls?limit=abc":                               400,
		"/api/calls?colour=blue":                             400,
		"/api/status":                                        200,
		"/api/dissectors":                                    200,
		"/api/flows":                                         200,
	} {
		if code := get(t, base+path, tok, nil); code != want {
			t.Errorf("GET %s: %d, want %d", path, code, want)
		}
	}
	req, _ = http.NewRequest("POST", base+"/api/tools/disable_dissection", strings.NewReader(`{"name":"http"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("destructive tool on a read-only hub: %d, want 403", resp.StatusCode)
	}
}

func TestMCPOverStreamableHTTPAndRemote(t *testing.T) {
	f := newFixture(t)
	base, tok := startHub(t, f)

	// Straight to the hub's /mcp.
	hc, err := client.NewStreamableHttpClient(base+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok}))
	if err != nil {
		t.Fatal(err)
	}
	c := mcptest.Connect(t, hc)
	var direct mcp.ListCallsResult
	c.Structured(t, "list_api_calls", c.Call(t, "list_api_calls", map[string]any{"kfl": "status_code == 503", "limit": 1000}), &direct)
	if direct.Returned != f.stats.Statuses[503] {
		t.Fatalf("over HTTP: %d 503s, want %d", direct.Returned, f.stats.Statuses[503])
	}

	// Through a forwarding server, as `kubeshark mcp --url` runs it.
	remote, err := mcp.NewRemote(mcp.RemoteOptions{URL: base, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := client.NewInProcessClient(remote)
	if err != nil {
		t.Fatal(err)
	}
	r := mcptest.Connect(t, rc)
	var fwd mcp.ListCallsResult
	r.Structured(t, "list_api_calls", r.Call(t, "list_api_calls", map[string]any{"kfl": "status_code == 503", "limit": 1000}), &fwd)
	if fwd.Returned != direct.Returned || fwd.Calls[0].ID != direct.Calls[0].ID {
		t.Fatalf("forwarded answer differs: %d vs %d", fwd.Returned, direct.Returned)
	}
	if res := r.Call(t, "list_api_calls", map[string]any{"kfl": "nonsense =="}); !res.IsError || !strings.Contains(mcptest.Text(res), "kfl") {
		t.Fatalf("bad filter through the forwarder: %q", mcptest.Text(res))
	}

	// A wrong token and a hub that is down are tool errors that say so.
	bad, _ := mcp.NewRemote(mcp.RemoteOptions{URL: base, Token: strings.Repeat("f", 64)})
	bc, _ := client.NewInProcessClient(bad)
	b := mcptest.Connect(t, bc)
	if res := b.Call(t, "list_api_calls", nil); !res.IsError || !strings.Contains(mcptest.Text(res), "rejected the token") {
		t.Fatalf("wrong token: %q", mcptest.Text(res))
	}
	down, _ := mcp.NewRemote(mcp.RemoteOptions{URL: refusingURL(t), Token: tok})
	dc, _ := client.NewInProcessClient(down)
	d := mcptest.Connect(t, dc)
	if res := d.Call(t, "get_data_boundaries", nil); !res.IsError || !strings.Contains(mcptest.Text(res), "unreachable") {
		t.Fatalf("hub down: %q", mcptest.Text(res))
	}
}

// refusingURL is a loopback URL whose port is bound but not listening, so a
// connection to it is refused for as long as the test runs. A closed
// listener's port is not enough: under `go test ./...` another package's hub
// can be given the same port a moment later, and answer.
func refusingURL(t *testing.T) string {
	t.Helper()
	_, u := boundSocket(t)
	return u
}

// boundSocket is the socket behind refusingURL and its URL; a test can
// make it listen (syscall.Listen) to bring a server up on that port.
func boundSocket(t *testing.T) (int, string) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	return fd, fmt.Sprintf("http://127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}
