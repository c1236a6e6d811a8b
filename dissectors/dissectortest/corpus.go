package dissectortest

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

// SharedDir is the workplace's shared directory (the third-party capture
// corpus and the tshark oracle): $KUBESHARK_SHARED, or ../shared beside the
// repository.
func SharedDir() string {
	if v := os.Getenv("KUBESHARK_SHARED"); v != "" {
		return v
	}
	return filepath.Join(repoRoot(), "..", "shared")
}

// CorpusDir returns the shared corpus for tests that replay its TCP streams
// natively, skipping (and saying why) when the corpus or tshark is absent or
// the run is -short.
func CorpusDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(SharedDir(), "corpus")
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

// Segment is one TCP payload of a stream, as tshark reassembled it.
type Segment struct {
	Dir      sdk.Direction // DirA: the stream's first sender
	Data     []byte
	Oriented bool // on the first segment: the first sender is known to be the client
}

// Streams returns the payload segments of every TCP stream in a capture,
// read with tshark.
func Streams(t testing.TB, file string) [][]Segment {
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
	var all [][]Segment
	var cur []Segment
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
					cur[0].Oriented = true
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
		cur = append(cur, Segment{Dir: dir, Data: b})
	}
	return all
}

// Replay runs one stream through a simplified copy of the host's detection
// (probe each direction as bytes arrive, claim at confidence 50, orient by
// FromServer) and, if d claims it, through d.
func Replay(d sdk.Dissector, segs []Segment) []*sdk.Record {
	var buf [2][]byte
	var dr *sdktest.Driver
	flip := sdk.Direction(0)
	claim := func(dir sdk.Direction, p sdk.Probe) {
		client := dir
		if p.FromServer {
			client = dir ^ 1
		}
		if segs[0].Oriented {
			client = 0
		}
		flip = client
		dr = sdktest.Open(d, sdk.ConnInfo{ID: 1, Oriented: true})
	}
	ts := int64(1)
	for _, sg := range segs {
		ts++
		if dr != nil {
			dr.Feed(sg.Dir^flip, sg.Data, ts)
			continue
		}
		buf[sg.Dir] = append(buf[sg.Dir], sg.Data...)
		p := d.Probe(sg.Dir, buf[sg.Dir])
		switch {
		case p.Confidence >= 50:
			claim(sg.Dir, p)
		case !p.NeedMore || len(buf[sg.Dir]) > 16<<10:
			o := sg.Dir ^ 1
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
			first := sg.Dir ^ 1
			if len(buf[first]) > 0 {
				dr.Feed(first^flip, buf[first], ts)
			}
			dr.Feed(sg.Dir^flip, buf[sg.Dir], ts)
		}
	}
	if dr == nil {
		return nil
	}
	dr.Close(ts + 1)
	return dr.Records
}

// CorpusKeys counts "METHOD PATH" of the records d makes from a capture.
func CorpusKeys(t testing.TB, d sdk.Dissector, file string) (map[string]int, []*sdk.Record) {
	keys := map[string]int{}
	var recs []*sdk.Record
	for _, s := range Streams(t, file) {
		for _, r := range Replay(d, s) {
			keys[strings.TrimSpace(r.Method+" "+r.Path)]++
			recs = append(recs, r)
		}
	}
	return keys, recs
}
