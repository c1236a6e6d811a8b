package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// tsFindings is the JSON object testdata/tsclient/client.mjs prints.
type tsFindings struct {
	Transport string `json:"transport"`
	Server    struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"server"`
	Tools              []string `json:"tools"`
	SDKValidatesOutput bool     `json:"sdk_validates_output"`
	Count503           int      `json:"count_503"`
	IDs503             []string `json:"ids_503"`
	GetAPICall         struct {
		ID          string `json:"id"`
		Status      int    `json:"status"`
		BodyExcerpt string `json:"body_excerpt"`
	} `json:"get_api_call"`
	BadKFLError string `json:"bad_kfl_error"`
	Status      struct {
		Records int `json:"records"`
		Failed  int `json:"failed"`
	} `json:"status"`
	Prompts []string `json:"prompts"`
}

const (
	npmTimeout    = 3 * time.Minute
	clientTimeout = 2 * time.Minute
	hubTimeout    = 20 * time.Second
)

// TestTSClient is a third-party client's view of the MCP server: the
// official TypeScript SDK (pinned in testdata/tsclient/package-lock.json)
// drives `kubeshark mcp` over stdio and `kubeshark hub` over Streamable
// HTTP, and what it reads must agree with the CLI's own answers.
//
// It needs node and npm, and the npm registry to install the SDK; with
// KUBESHARK_SKIP_NPM=1 it skips instead of failing where there is no
// registry.
func TestTSClient(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the MCP TypeScript SDK from npm")
	}
	dir := tsClientDir(t)

	data := t.TempDir()
	if r := ks(t, data, "import", sample(t, 200)); r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	all := calls(t, data)
	var want []string
	for _, r := range calls(t, data, "--filter", "http && status_code == 503") {
		want = append(want, r.ID)
	}
	if len(want) == 0 {
		t.Fatal("the sample holds no 503s: the client's checks would prove nothing")
	}

	// badger allows one process per data directory: the stdio server must
	// be gone before the hub opens the store, and the client waits for it.
	t.Run("stdio", func(t *testing.T) {
		f := runTSClient(t, dir, nil, "stdio", binary_, data)
		checkFindings(t, f, want, len(all))
	})

	t.Run("hub", func(t *testing.T) {
		h := startHubProcess(t, data)
		r := ks(t, data, "hub", "token")
		token := strings.TrimSpace(r.stdout)
		if r.code != 0 || len(token) < 32 {
			t.Fatalf("hub token: %+v", r)
		}
		if printed := h.wait(t, hubToken); printed != token {
			t.Fatalf("hub printed token %q on first start, hub token says %q", printed, token)
		}
		// The token goes by environment, as the script also allows, to
		// keep it out of the process list.
		f := runTSClient(t, dir, []string{"KUBESHARK_HUB_TOKEN=" + token}, "http", h.url+"/mcp")
		checkFindings(t, f, want, len(all))

		out, errOut, err := execTSClient(t, dir, nil, "http", h.url+"/mcp", strings.Repeat("0", 64))
		if err == nil || !strings.Contains(errOut, "tsclient: FAIL") || !strings.Contains(errOut, "wrong bearer token") {
			t.Errorf("client with a wrong token: err %v, stdout %q, stderr %q; want a failure naming the wrong token", err, out, errOut)
		}

		if code := h.stop(t); code != 0 {
			t.Fatalf("hub exited %d after SIGTERM; stderr:\n%s", code, h.stderr())
		}
	})
}

// checkFindings compares what the SDK client saw with the CLI's answers
// over the same store.
func checkFindings(t *testing.T, f tsFindings, want503 []string, records int) {
	t.Helper()
	if f.Server.Name != "kubeshark" || !f.SDKValidatesOutput {
		t.Errorf("server %+v, SDK validates output: %v", f.Server, f.SDKValidatesOutput)
	}
	got := slices.Sorted(slices.Values(f.IDs503))
	exp := slices.Sorted(slices.Values(want503))
	if f.Count503 != len(want503) || !slices.Equal(got, exp) {
		t.Errorf("%s: %d 503s %v, the CLI finds %d %v", f.Transport, f.Count503, got, len(exp), exp)
	}
	// The client asks for the oldest first and opens the first; the CLI
	// lists in time order too.
	if f.GetAPICall.ID != want503[0] || f.GetAPICall.Status != 503 {
		t.Errorf("%s: get_api_call opened %+v, want %s with status 503", f.Transport, f.GetAPICall, want503[0])
	}
	if !strings.Contains(f.GetAPICall.BodyExcerpt, "service temporarily unavailable") {
		t.Errorf("%s: get_api_call body %q", f.Transport, f.GetAPICall.BodyExcerpt)
	}
	if f.Status.Records != records || f.Status.Failed < len(want503) {
		t.Errorf("%s: kubeshark://status says %d records (%d failed); the CLI lists %d, %d of them 503s", f.Transport, f.Status.Records, f.Status.Failed, records, len(want503))
	}
	if !strings.HasPrefix(f.BadKFLError, "kfl: ") {
		t.Errorf("%s: bad filter error %q, want the filter language's message", f.Transport, f.BadKFLError)
	}
	for _, name := range []string{"list_api_calls", "get_api_call", "get_data_boundaries"} {
		if !slices.Contains(f.Tools, name) {
			t.Errorf("%s: tools %v lack %s", f.Transport, f.Tools, name)
		}
	}
	if !slices.Contains(f.Prompts, "find_errors") {
		t.Errorf("%s: prompts %v lack find_errors", f.Transport, f.Prompts)
	}
}

// tsClientDir copies testdata/tsclient to a temporary directory and
// installs its locked dependencies there, so that the source tree stays
// clean and runs do not share a node_modules.
func tsClientDir(t *testing.T) string {
	t.Helper()
	if os.Getenv("KUBESHARK_SKIP_NPM") == "1" {
		t.Skip("KUBESHARK_SKIP_NPM=1: not installing the MCP TypeScript SDK from the npm registry")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the TypeScript SDK client test needs Node.js 18 or later with npm", tool)
		}
	}
	if out, err := exec.Command("node", "--version").Output(); err != nil {
		t.Skipf("node --version: %v", err)
	} else if major := nodeMajor(string(out)); major < 18 {
		t.Skipf("node %s is too old: the MCP TypeScript SDK needs 18 or later", strings.TrimSpace(string(out)))
	}

	src := filepath.Join("testdata", "tsclient")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue // node_modules from a local npm install
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), npmTimeout)
	defer cancel()
	// --ignore-scripts: nothing from the registry runs at install time.
	cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in a copy of %s: %v (set KUBESHARK_SKIP_NPM=1 to skip this test where the npm registry is unreachable)\n%s", src, err, out)
	}
	t.Logf("npm ci: %v", time.Since(start).Round(time.Millisecond))
	return dir
}

// nodeMajor reads the major version from `node --version` ("v20.1.0").
func nodeMajor(v string) int {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0
	}
	return n
}

// execTSClient runs the client script and returns its output.
func execTSClient(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"client.mjs"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// runTSClient runs the client script, which must pass every check, and
// decodes its findings.
func runTSClient(t *testing.T, dir string, env []string, args ...string) tsFindings {
	t.Helper()
	start := time.Now()
	out, errOut, err := execTSClient(t, dir, env, args...)
	if err != nil {
		t.Fatalf("node client.mjs %s: %v\nstderr:\n%s\nstdout:\n%s", args[0], err, errOut, out)
	}
	var f tsFindings
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("node client.mjs %s: output is not the findings object: %v\n%s", args[0], err, out)
	}
	t.Logf("%s client: %d 503s, %d tools, %v", args[0], f.Count503, len(f.Tools), time.Since(start).Round(time.Millisecond))
	return f
}

// hubProcess is a running `kubeshark hub`.
type hubProcess struct {
	cmd  *exec.Cmd
	url  string
	out  *watchWriter
	done chan struct{}
	err  error // from Wait; read after done is closed
}

var (
	// hubListening is the hub's first stderr line; with --addr
	// 127.0.0.1:0 it is the only way to learn the port.
	hubListening = regexp.MustCompile(`serving .* on (http://\S+) `)
	// hubToken follows it on the first start of a data directory.
	hubToken = regexp.MustCompile(`prints it again\):\n\s*(\S+)\n`)
)

// startHubProcess starts the hub on a free loopback port and waits until it
// says it is listening.
func startHubProcess(t *testing.T, data string, extra ...string) *hubProcess {
	t.Helper()
	w := &watchWriter{changed: make(chan struct{})}
	cmd := exec.Command(binary_, append([]string{"--data", data, "hub", "--addr", "127.0.0.1:0"}, extra...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &hubProcess{cmd: cmd, out: w, done: make(chan struct{})}
	go func() {
		h.err = cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			cmd.Process.Kill()
			<-h.done
		}
	})
	h.url = h.wait(t, hubListening)
	return h
}

// wait returns the first group of re once the hub's stderr matches it.
func (h *hubProcess) wait(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	timeout := time.After(hubTimeout)
	for {
		m, changed := h.out.match(re)
		if m != nil {
			return m[1]
		}
		select {
		case <-changed:
		case <-h.done:
			if m, _ := h.out.match(re); m != nil {
				return m[1]
			}
			t.Fatalf("hub exited (%v) before printing %v:\n%s", h.err, re, h.stderr())
		case <-timeout:
			t.Fatalf("hub did not print %v within %v:\n%s", re, hubTimeout, h.stderr())
		}
	}
}

func (h *hubProcess) stderr() string { return h.out.String() }

// stop sends SIGTERM and returns the exit code.
func (h *hubProcess) stop(t *testing.T) int {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to the hub: %v", err)
	}
	select {
	case <-h.done:
	case <-time.After(hubTimeout):
		t.Fatalf("hub still running %v after SIGTERM:\n%s", hubTimeout, h.stderr())
	}
	if h.err == nil {
		return 0
	}
	if ee, ok := h.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("waiting for the hub: %v", h.err)
	return -1
}

// watchWriter collects a process's stderr; changed is closed and replaced
// on every write, so that a reader can wait for the line it needs without
// polling.
type watchWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	close(w.changed)
	w.changed = make(chan struct{})
	return len(p), nil
}

// match applies re to what has been written so far, and returns the
// channel the next write closes.
func (w *watchWriter) match(re *regexp.Regexp) ([]string, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return re.FindStringSubmatch(w.buf.String()), w.changed
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
