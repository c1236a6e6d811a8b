package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

func TestMCPCommandFlags(t *testing.T) {
	data := t.TempDir()
	r := ks(t, data, "mcp", "--list-tools")
	if r.code != 0 {
		t.Fatalf("--list-tools: exit %d: %s", r.code, r.stderr)
	}
	for _, tool := range []string{"list_api_calls", "get_api_call", "get_api_stats", "find_anomalies", "get_tcp_insights", "export_snapshot_pcap", "disable_dissection"} {
		if !strings.Contains(r.stdout, tool+" ") {
			t.Errorf("--list-tools lacks %s:\n%s", tool, r.stdout)
		}
	}
	// Whole descriptions, wrapped to 100 columns (stdout is not a
	// terminal here), never cut mid-sentence.
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("--list-tools line of %d columns: %q", n, line)
		}
	}
	flat := strings.Join(strings.Fields(r.stdout), " ")
	for _, tool := range serverTools(t) {
		if want := strings.Join(strings.Fields(tool.Description), " "); !strings.Contains(flat, tool.Name+" "+want) {
			t.Errorf("--list-tools does not give %s's whole description %q", tool.Name, want)
		}
	}
	for _, bad := range []struct {
		args []string
		want []string // each must be said
	}{
		{[]string{"mcp", "--proxy", "--url", "http://127.0.0.1:1"}, []string{"not --url, --token or --list-tools"}},
		{[]string{"mcp", "--proxy", "--list-tools"}, []string{"not --url, --token or --list-tools"}},
		{[]string{"mcp", "--kubeconfig", "x"}, []string{"apply to --proxy"}},
		{[]string{"hub", "--auth", "oidc"}, []string{`--auth "oidc": want token or kubernetes`}},
		// What is wrong (the flag, the mode it needs, the mode in use) and
		// both ways out.
		{[]string{"hub", "--namespace", "x"}, []string{"--namespace is only used with --auth kubernetes", "--auth token, the default", "add --auth kubernetes, or drop --namespace"}},
		{[]string{"hub", "--auth", "token", "--namespace", "x"}, []string{"--namespace is only used with --auth kubernetes", "add --auth kubernetes, or drop --namespace"}},
		{[]string{"hub", "--auth", "kubernetes", "--kubeconfig", data + "/none"}, []string{"kubeconfig " + data + "/none"}},
	} {
		r = ks(t, data, bad.args...)
		if r.code == 0 || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q; want an error", bad.args, r.code, r.stdout)
		}
		for _, want := range bad.want {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%v: stderr %q; want it to say %q", bad.args, r.stderr, want)
			}
		}
	}
	r = ks(t, data, "mcp", "--url", "http://127.0.0.1:1", "--list-tools")
	if r.code == 0 || r.stdout != "" {
		t.Fatalf("--url with --list-tools: exit %d, stdout %q", r.code, r.stdout)
	}
	r = ks(t, data, "hub", "token")
	if r.code == 0 || !strings.Contains(r.stderr, "start `kubeshark hub` once") {
		t.Fatalf("hub token before the first start: exit %d, %q", r.code, r.stderr)
	}
	r = ks(t, data, "sample", "--scenario", "chaos", t.TempDir()+"/x.pcap")
	if r.code == 0 || !strings.Contains(r.stderr, "want http, cascade or an incident") {
		t.Fatalf("bad scenario: exit %d, %q", r.code, r.stderr)
	}
}

// An assistant starting `kubeshark mcp` while an import holds the store
// gets a server at once; calls then say the store is busy instead of
// hanging, and work again once it is free.
func TestMCPStartsWhileTheStoreIsBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	data := t.TempDir()
	held, err := storage.Open(context.Background(), storage.Options{Dir: filepath.Join(data, "store"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewStdioMCPClient(binary_, nil, "--data", data, "mcp")
	if err != nil {
		held.Close()
		t.Fatal(err)
	}
	s := mcptest.Connect(t, c)
	res := s.Call(t, "get_data_boundaries", nil)
	if !res.IsError || !strings.Contains(mcptest.Text(res), "in use by another kubeshark process") {
		t.Fatalf("call on a busy store: %v %q", res.IsError, mcptest.Text(res))
	}
	held.Close()
	s.Get(t, "get_data_boundaries", nil, nil)
}

// `kubeshark mcp --url` says on stderr at start whether the hub answers and
// accepts the token, lists the tools either way, and gives one clear error
// per call while the hub is unusable.
func TestMCPURLSaysWhetherTheHubAnswers(t *testing.T) {
	// A hub over an empty in-memory store, in this process: what is
	// tested is the binary's side.
	st, err := storage.Open(context.Background(), storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := mcp.New(mcp.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	const tok = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	h, err := hub.Handler(hub.Options{Server: s, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	refused := fmt.Sprintf("http://127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)

	for _, tc := range []struct {
		name, url, token, stderr, callErr string
	}{
		{"down", refused, tok, "hub " + refused + " is unreachable (connect: connection refused): is `kubeshark hub` running there?", "hub " + refused + " is unreachable"},
		{"wrong token", srv.URL, strings.Repeat("f", 64), "hub " + srv.URL + " rejected the token (401): pass the one `kubeshark hub token` prints", "rejected the token"},
		{"up", srv.URL, tok, "hub " + srv.URL + " is reachable and accepted the token", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.NewStdioMCPClient(binary_, []string{"KUBESHARK_HUB_TOKEN=" + tc.token}, "--data", t.TempDir(), "mcp", "--url", tc.url)
			if err != nil {
				t.Fatal(err)
			}
			stderr, _ := client.GetStderr(c)
			var mu sync.Mutex
			var got bytes.Buffer
			go func() {
				b := make([]byte, 4096)
				for {
					n, err := stderr.Read(b)
					mu.Lock()
					got.Write(b[:n])
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
			sess := mcptest.Connect(t, c)
			if len(sess.Tools) < 8 {
				t.Fatalf("%d tools listed", len(sess.Tools))
			}
			res := sess.Call(t, "get_data_boundaries", nil)
			text := mcptest.Text(res)
			if tc.callErr == "" {
				sess.Structured(t, "get_data_boundaries", res, nil)
			} else if !res.IsError || !strings.Contains(text, tc.callErr) || strings.Contains(text, "failed to send request") {
				t.Fatalf("tool call: %v %q", res.IsError, text)
			}
			// The line was written before the server answered
			// initialize; give the reader a moment to take it in.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				mu.Lock()
				out := got.String()
				mu.Unlock()
				if strings.Contains(out, tc.stderr) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("stderr %q lacks %q", out, tc.stderr)
				}
			}
		})
	}
}

// A hub that cannot listen writes no token; the one that can, does; and
// --help says what read-only allows.
func TestHubWritesItsTokenOnlyOnceListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := t.TempDir()
	r := ks(t, data, "hub", "--addr", ln.Addr().String())
	if r.code == 0 || !strings.Contains(r.stderr, "address already in use") {
		t.Fatalf("hub on a taken port: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, hub.TokenFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a hub that could not listen left %s: %v", hub.TokenFile, err)
	}
	if r := ks(t, data, "hub", "token"); r.code == 0 {
		t.Fatalf("hub token after a failed start: %q", r.stdout)
	}
	r = ks(t, data, "hub", "--help")
	for _, want := range []string{"Read-only by default", "create_snapshot and export_snapshot_pcap only add", "--allow-destructive enables enable_dissection and disable_dissection"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("hub --help lacks %q:\n%s", want, r.stdout)
		}
	}
}

// serverTools are the tools a server advertises, from the library.
func serverTools(t *testing.T) []mcpgo.Tool {
	t.Helper()
	st, err := storage.Open(context.Background(), storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := mcp.New(mcp.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return s.Tools()
}
