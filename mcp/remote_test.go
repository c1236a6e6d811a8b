package mcp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mark3labs/mcp-go/client"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
)

// A forwarding server whose hub is down or refuses its token still lists
// its tools, says what is wrong once per call in one sentence, and uses
// the hub as soon as it comes up, without a restart.
func TestForwarderSaysWhatIsWrongAndRecovers(t *testing.T) {
	f := newFixture(t)
	tok, _, err := hub.LoadOrCreateToken(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	// A port bound but not listening refuses connections until the test
	// makes it listen.
	fd, url := boundSocket(t)
	ctx := context.Background()

	err = mcp.CheckHub(ctx, mcp.RemoteOptions{URL: url, Token: tok})
	if !errors.Is(err, mcp.ErrHubUnreachable) || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "kubeshark hub") {
		t.Fatalf("CheckHub on a closed port: %v", err)
	}
	remote, err := mcp.NewRemote(mcp.RemoteOptions{URL: url, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := client.NewInProcessClient(remote)
	if err != nil {
		t.Fatal(err)
	}
	r := mcptest.Connect(t, rc)
	if len(r.Tools) < 8 {
		t.Fatalf("%d tools listed while the hub is down", len(r.Tools))
	}
	res := r.Call(t, "get_data_boundaries", nil)
	msg := mcptest.Text(res)
	if !res.IsError || !strings.HasPrefix(msg, "hub "+url+" is unreachable (connect: connection refused)") || strings.Contains(msg, "failed to send request") || strings.Count(msg, url) != 1 {
		t.Fatalf("call while the hub is down: %q", msg)
	}

	// The hub comes up on that port.
	if err := syscall.Listen(fd, 16); err != nil {
		t.Fatal(err)
	}
	ln, err := net.FileListener(os.NewFile(uintptr(fd), "hub"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.Handler(hub.Options{Server: f.server(t, false), Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	if err := mcp.CheckHub(ctx, mcp.RemoteOptions{URL: url, Token: tok}); err != nil {
		t.Fatalf("CheckHub with the hub up: %v", err)
	}
	var b struct {
		Records struct{ Count int } `json:"records"`
	}
	r.Get(t, "get_data_boundaries", nil, &b)
	if b.Records.Count == 0 {
		t.Fatal("no records through the forwarder once the hub is up")
	}

	// A wrong token.
	bad := mcp.RemoteOptions{URL: url, Token: strings.Repeat("f", 64)}
	err = mcp.CheckHub(ctx, bad)
	if !errors.Is(err, mcp.ErrHubToken) || !strings.Contains(err.Error(), "kubeshark hub token") {
		t.Fatalf("CheckHub with a wrong token: %v", err)
	}
	bs, _ := mcp.NewRemote(bad)
	bc, _ := client.NewInProcessClient(bs)
	res = mcptest.Connect(t, bc).Call(t, "list_api_calls", nil)
	if msg := mcptest.Text(res); !res.IsError || !strings.HasPrefix(msg, "hub "+url+" rejected the token (401)") {
		t.Fatalf("call with a wrong token: %q", msg)
	}

	// No token at all.
	err = mcp.CheckHub(ctx, mcp.RemoteOptions{URL: url})
	if !errors.Is(err, mcp.ErrHubToken) || !strings.Contains(err.Error(), "needs a bearer token") {
		t.Fatalf("CheckHub without a token: %v", err)
	}

	// A name that does not resolve (.invalid never does; without a
	// resolver the lookup may time out instead, which is unreachable too).
	err = mcp.CheckHub(ctx, mcp.RemoteOptions{URL: "http://no-such-hub.invalid:8898"})
	if !errors.Is(err, mcp.ErrHubUnreachable) || !strings.Contains(err.Error(), "no-such-hub.invalid") {
		t.Fatalf("CheckHub on an unknown host: %v", err)
	}
}
