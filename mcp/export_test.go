package mcp_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

// export_snapshot_pcap names its file by an absolute path, whatever the
// server's working directory and however its export directory was given
// (`kubeshark --data ./d` makes it relative), and on a hub its URL
// downloads the same bytes.
func TestExportPathIsAbsoluteAndTheURLDownloadsIt(t *testing.T) {
	sc := newScenario(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(sc.dir)
	s, err := mcp.New(mcp.Options{Store: sc.store, Dissectors: dissectorList(), Snapshots: sc.snaps, ExportDir: "exports", PublicURL: "http://" + ln.Addr().String(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.Repeat("k", 64)
	h, err := hub.Handler(hub.Options{Server: s, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	c := mcptest.Connect(t, mustInProcess(t, s))
	var info snapshot.Info
	c.Get(t, "create_snapshot", map[string]any{"name": "outage", "start": rfc(sc.cascade.FailureOnset), "end": rfc(sc.cascade.End.Add(time.Second))}, &info)
	res := c.Call(t, "export_snapshot_pcap", map[string]any{"id": info.ID})
	var ex mcp.ExportResult
	c.Structured(t, "export_snapshot_pcap", res, &ex)
	want := filepath.Join(sc.dir, "exports", info.ID)
	if !filepath.IsAbs(ex.Path) || filepath.Dir(ex.Path) != want {
		t.Fatalf("path %q; want an absolute path in %s", ex.Path, want)
	}
	if !strings.Contains(mcptest.Text(res), ex.Path) {
		t.Fatalf("text %q does not name %s", mcptest.Text(res), ex.Path)
	}
	disk, err := os.ReadFile(ex.Path)
	if err != nil || int64(len(disk)) != ex.Bytes {
		t.Fatalf("the file: %v, %d bytes, the tool said %d", err, len(disk), ex.Bytes)
	}

	if ex.URL != "http://"+ln.Addr().String()+"/api/snapshots/"+info.ID+"/pcap" {
		t.Fatalf("url %q", ex.URL)
	}
	req, _ := http.NewRequest("GET", ex.URL, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, disk) || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d, %d bytes (%q); the export on disk has %d", resp.StatusCode, len(body), resp.Header.Get("Content-Disposition"), len(disk))
	}
}
