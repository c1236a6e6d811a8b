package websocket

import (
	"bytes"
	"fmt"
	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// TestCorpusUpgrade replays the WebSocket part of the corpus's Upgrade
// capture (everything after the 101 response's header block, as the host
// hands it over) and compares the frames with tshark's
// `-Y websocket -e websocket.opcode` view: Binary, Text (masked), Binary,
// Binary, Binary, Text (masked), Text, Close (masked), Close.
func TestCorpusUpgrade(t *testing.T) {
	dir := dissectortest.CorpusDir(t)
	file := filepath.Join(dir, "http1", "zeek_websocket_upgrade.pcap")
	out, err := exec.Command("tshark", "-r", file, "-Y", "websocket", "-T", "fields", "-e", "websocket.opcode", "-e", "websocket.mask").Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		want = append(want, f[0]+"/"+f[1])
	}
	segs := dissectortest.Streams(t, file)
	if len(segs) != 1 {
		t.Fatalf("%d streams", len(segs))
	}
	// Skip the HTTP exchange: the request and the 101 response's head.
	var buf [2][]byte
	for _, s := range segs[0] {
		buf[s.Dir] = append(buf[s.Dir], s.Data...)
	}
	client, server := buf[0], buf[1]
	client = client[bytes.Index(client, []byte("\r\n\r\n"))+4:]
	server = server[bytes.Index(server, []byte("\r\n\r\n"))+4:]
	if p := New().Probe(sdk.DirB, server); p.Confidence+20 < 50 || !p.FromServer {
		t.Fatalf("probe of the first frame after the upgrade: %+v", p)
	}
	dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
	// Deliver in capture order, as segments.
	ci, si := 0, 0
	for _, s := range segs[0] {
		data := s.Data
		if s.Dir == 0 {
			skip := len(buf[0]) - len(client) - ci
			ci += len(data)
			if skip > 0 {
				data = data[min(skip, len(data)):]
			}
			dr.Feed(sdk.DirA, data, 1)
			continue
		}
		skip := len(buf[1]) - len(server) - si
		si += len(data)
		if skip > 0 {
			data = data[min(skip, len(data)):]
		}
		dr.Feed(sdk.DirB, data, 1)
	}
	dr.Close(2)
	var got []string
	for _, r := range dr.Records {
		for _, m := range []*sdk.Message{r.Request, r.Response} {
			if m == nil {
				continue
			}
			masked := 0
			if m.Fields["websocket_masked"] == true {
				masked = 1
			}
			got = append(got, fmt.Sprintf("%d/%d", m.Fields["websocket_opcode"], masked))
		}
		if r.Error != "" {
			t.Errorf("record %s: %s", r.Method, r.Error)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("frames:\n got  %v\n want %v (tshark)", got, want)
	}
}

// TestCorpusNegative checks that, without the hint, no capture of the
// corpus is claimed: the probe stays below 50 by design.
func TestCorpusNegative(t *testing.T) {
	dir := dissectortest.CorpusDir(t)
	for _, pattern := range []string{"negative/*", "redis/*", "mqtt/*", "postgresql/*"} {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, f := range files {
			if _, recs := dissectortest.CorpusKeys(t, New(), f); len(recs) > 0 {
				t.Errorf("%s: %d websocket records", f, len(recs))
			}
		}
	}
}
