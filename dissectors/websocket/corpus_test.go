package websocket

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// The corpus tests replay TCP streams of the shared third-party captures
// (../../../shared/corpus, absent outside the project's machines), as
// tshark reassembles them, through a simplified copy of the host's
// detection: probe each direction as bytes arrive, claim at confidence 50,
// orient by FromServer.

func corpusDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join("..", "..", "..", "shared", "corpus")
	if v := os.Getenv("KUBESHARK_SHARED"); v != "" {
		d = filepath.Join(v, "corpus")
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("shared corpus not found at %s", d)
	}
	if testing.Short() {
		t.Skip("corpus replay is slow (tshark per capture)")
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	return d
}

type segment struct {
	dir      sdk.Direction // 0: the stream's first sender
	data     []byte
	oriented bool // on the first segment: the first sender is known to be the client
}

// streams returns the payload segments of every TCP stream in a capture.
func streams(t *testing.T, file string) [][]segment {
	t.Helper()
	out, err := exec.Command("tshark", "-r", file, "-Y", "tcp.len>0 or (tcp.flags.syn==1 and tcp.flags.ack==0)", "-T", "fields", "-e", "tcp.stream", "-e", "tcp.len").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	ids := map[string]bool{}
	syn := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		if f[1] == "0" {
			if !ids[f[0]] {
				syn[f[0]] = true
			}
			continue
		}
		ids[f[0]] = true
	}
	if len(ids) == 0 {
		return nil
	}
	args := []string{"-r", file, "-q"}
	keys := make([]string, 0, len(ids))
	for id := range ids {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	for _, id := range keys {
		args = append(args, "-z", "follow,tcp,raw,"+id)
	}
	out, err = exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark follow: %v", err)
	}
	var all [][]segment
	var cur []segment
	in := false
	id := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "====="):
			if in {
				if syn[id] && len(cur) > 0 {
					// The handshake was seen: the first sender is the client.
					cur[0].oriented = true
				}
				all = append(all, cur)
				cur = nil
			}
			in = !in
			continue
		case strings.HasPrefix(l, "Filter: tcp.stream eq "):
			id = strings.TrimPrefix(l, "Filter: tcp.stream eq ")
			continue
		case !in, strings.HasPrefix(l, "Follow:"), strings.HasPrefix(l, "Node "):
			continue
		}
		dir := sdk.DirA
		if strings.HasPrefix(l, "\t") {
			dir = sdk.DirB
		}
		b, err := hex.DecodeString(strings.TrimSpace(l))
		if err != nil || len(b) == 0 {
			continue
		}
		cur = append(cur, segment{dir: dir, data: b})
	}
	return all
}

// replay runs one stream through detection and, if d claims it, parsing.
func replay(d sdk.Dissector, segs []segment) []*sdk.Record {
	var buf [2][]byte
	var dr *sdktest.Driver
	flip := sdk.Direction(0)
	claim := func(dir sdk.Direction, p sdk.Probe) {
		client := dir
		if p.FromServer {
			client = dir ^ 1
		}
		if segs[0].oriented {
			client = 0
		}
		flip = client
		dr = sdktest.Open(d, sdk.ConnInfo{ID: 1, Oriented: true})
	}
	ts := int64(1)
	for _, sg := range segs {
		ts++
		if dr != nil {
			dr.Feed(sg.dir^flip, sg.data, ts)
			continue
		}
		buf[sg.dir] = append(buf[sg.dir], sg.data...)
		p := d.Probe(sg.dir, buf[sg.dir])
		switch {
		case p.Confidence >= 50:
			claim(sg.dir, p)
		case !p.NeedMore || len(buf[sg.dir]) > 16<<10:
			o := sg.dir ^ 1
			if len(buf[o]) == 0 {
				continue
			}
			if po := d.Probe(o, buf[o]); po.Confidence >= 50 {
				claim(o, po)
				break
			}
			return nil
		}
		if dr != nil {
			first := sg.dir ^ 1
			if len(buf[first]) > 0 {
				dr.Feed(first^flip, buf[first], ts)
			}
			dr.Feed(sg.dir^flip, buf[sg.dir], ts)
		}
	}
	if dr == nil {
		return nil
	}
	dr.Close(ts + 1)
	return dr.Records
}

// corpusKeys counts "METHOD PATH" of the records d makes from a capture.
func corpusKeys(t *testing.T, d sdk.Dissector, file string) (map[string]int, []*sdk.Record) {
	keys := map[string]int{}
	var recs []*sdk.Record
	for _, s := range streams(t, file) {
		for _, r := range replay(d, s) {
			keys[strings.TrimSpace(r.Method+" "+r.Path)]++
			recs = append(recs, r)
		}
	}
	return keys, recs
}
