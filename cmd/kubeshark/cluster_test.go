package main_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
)

// startHub starts `kubeshark hub` as a process and returns its URL once
// it serves; the process is killed when the test ends.
func startHub(t *testing.T, data string, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(binary_, append([]string{"--data", data, "hub"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	serving := regexp.MustCompile(`serving .* on (http://\S+)`)
	urls := make(chan string, 1)
	var said strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			said.WriteString(sc.Text() + "\n")
			if m := serving.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		close(urls)
	}()
	select {
	case u, ok := <-urls:
		if !ok {
			t.Fatalf("hub %v exited: %s", args, said.String())
		}
		return u, cmd
	case <-time.After(60 * time.Second):
		t.Fatalf("hub %v did not start", args)
	}
	return "", nil
}

func getJSON(t *testing.T, url, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v %v", url, resp.StatusCode, err, m)
	}
	return m
}

func recordCount(m map[string]any) int {
	return int(m["records"].(map[string]any)["count"].(float64))
}

// Two workers (kubeshark hub over their own data, on 127.0.0.2 and
// 127.0.0.3) and a hub with --workers, all processes: the hub answers for
// both, and when one is killed, says so and answers from the other.
func TestHubFansOutToWorkerProcesses(t *testing.T) {
	const token = "cluster-token-0123456789abcdef0123456789abcdef"
	dirs := map[string]string{}
	for _, n := range []string{"a", "b", "central"} {
		dirs[n] = t.TempDir()
		// A cluster's hub and workers share one token (a Secret in the
		// chart), placed where each looks for its own.
		if err := os.WriteFile(filepath.Join(dirs[n], hub.TokenFile), []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for n, pcap := range map[string]string{"a": sample(t, 40), "b": cascade(t, "2026-11-20T14:00:00Z")} {
		if r := ks(t, dirs[n], "import", pcap); r.code != 0 {
			t.Fatalf("import: %+v", r)
		}
	}
	urlA, _ := startHub(t, dirs["a"], "--addr", "127.0.0.2:0")
	urlB, procB := startHub(t, dirs["b"], "--addr", "127.0.0.3:0")
	if r := ks(t, dirs["central"], "hub", "--workers", "a=ftp://x"); r.code == 0 || !strings.Contains(r.stderr, `worker "a=ftp://x": want http://HOST:PORT`) {
		t.Fatalf("bad --workers: %+v", r)
	}
	central, _ := startHub(t, dirs["central"], "--addr", "127.0.0.1:0", "--workers", "a="+urlA+",b="+urlB)

	nA, nB := recordCount(getJSON(t, urlA+"/api/status", token)), recordCount(getJSON(t, urlB+"/api/status", token))
	status := getJSON(t, central+"/api/status", token)
	if n := recordCount(status); n != nA+nB || nA == 0 || nB == 0 {
		t.Fatalf("central hub holds %d records, workers %d + %d", n, nA, nB)
	}
	list := getJSON(t, central+"/api/calls?limit=1000&order=oldest", token)
	if n := len(list["calls"].([]any)); n != nA+nB {
		t.Errorf("listed %d calls, want %d", n, nA+nB)
	}
	if ws := list["workers"].([]any); len(ws) != 2 || list["partial"] != nil {
		t.Errorf("workers %v partial %v", ws, list["partial"])
	}

	procB.Process.Kill()
	procB.Wait()
	stats := getJSON(t, central+"/api/stats", token)
	p, _ := stats["partial"].(string)
	if !strings.HasPrefix(p, "node b (") || !strings.HasSuffix(p, "did not answer; results are from 1 of 2 nodes") {
		t.Errorf("partial = %q", p)
	}
	if n := int(stats["total"].(map[string]any)["count"].(float64)); n != nA {
		t.Errorf("stats over %d calls, want node a's %d", n, nA)
	}
}
