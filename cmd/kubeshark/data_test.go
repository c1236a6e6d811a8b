package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// importJSON is what these tests read of `import -o json`.
type importJSON []struct {
	File   string `json:"file"`
	Stored struct {
		Records, Flows newOld
		Packets        *newOld
	} `json:"stored"`
	Retention *struct {
		Age     string     `json:"age"`
		Bytes   int64      `json:"bytes"`
		Cutoff  *time.Time `json:"cutoff"`
		Dropped struct {
			Records, Flows int
			Packets        int64
		} `json:"dropped"`
		Warning string `json:"warning"`
	} `json:"retention"`
	Error string `json:"error"`
}

type newOld struct {
	New           int64 `json:"new"`
	AlreadyStored int64 `json:"already_stored"`
}

func importJ(t *testing.T, data string, args ...string) importJSON {
	t.Helper()
	r := ks(t, data, append([]string{"import", "-o", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("import %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	var out importJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("import -o json: %v\n%s", err, r.stdout)
	}
	return out
}

// countPackets reads a capture file the way an import does.
func countPackets(t *testing.T, file string) int {
	t.Helper()
	src, err := capture.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	n := 0
	for {
		_, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("reading %s: %v", file, err)
		}
		n++
	}
}

// TestReimportStoresEachPacketOnce is issue 15's second data bug: four
// imports of one capture held four copies of its packets, and a snapshot
// exported them all. Each import after the first must add nothing, say
// so, and the exported snapshot must hold each packet once.
func TestReimportStoresEachPacketOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("imports through the wasm dissectors")
	}
	data := t.TempDir()
	pcap := sample(t, 100)
	packets := countPackets(t, pcap)
	for i := range 4 {
		res := importJ(t, data, pcap)
		st := res[0].Stored
		want := newOld{New: 100}
		wantFlows := newOld{New: 8}
		wantPackets := newOld{New: int64(packets)}
		if i > 0 {
			want, wantFlows, wantPackets = newOld{AlreadyStored: 100}, newOld{AlreadyStored: 8}, newOld{AlreadyStored: int64(packets)}
		}
		if st.Records != want || st.Flows != wantFlows || st.Packets == nil || *st.Packets != wantPackets {
			t.Fatalf("import %d: stored %+v (packets %+v), want records %+v, flows %+v, packets %+v", i+1, st, st.Packets, want, wantFlows, wantPackets)
		}
	}
	r := ks(t, data, "import", pcap)
	if r.code != 0 || !strings.Contains(r.stdout, "nothing new (records: 0 new, 100 already stored; flows: 0 new, 8 already stored; packets: 0 new, "+itoa(packets)+" already stored)") {
		t.Fatalf("fifth import does not say it added nothing: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := len(calls(t, data)); n != 100 {
		t.Fatalf("%d calls stored, want 100", n)
	}
	b, err := packetlog.NewReader(filepath.Join(data, "packets"), packetlog.Options{}).Boundaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b.Packets != int64(packets) {
		t.Fatalf("the packet log holds %d packets after five imports of %d", b.Packets, packets)
	}

	c, err := client.NewStdioMCPClient(binary_, nil, "--data", data, "mcp")
	if err != nil {
		t.Fatal(err)
	}
	s := mcptest.Connect(t, c)
	var snap struct {
		ID      string
		Packets int64 `json:"packets"`
	}
	s.Get(t, "create_snapshot", map[string]any{"name": "reimported", "start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}, &snap)
	var ex struct {
		Path    string `json:"path"`
		Packets int    `json:"packets"`
	}
	s.Get(t, "export_snapshot_pcap", map[string]any{"id": snap.ID}, &ex)
	if snap.Packets != int64(packets) || ex.Packets != packets {
		t.Fatalf("snapshot holds %d packets and its export %d, want %d", snap.Packets, ex.Packets, packets)
	}
	if got := countPackets(t, ex.Path); got != packets {
		t.Fatalf("the exported file has %d packets, want %d", got, packets)
	}
	// tshark, when installed (make deps), is an independent reader.
	if _, err := exec.LookPath("tshark"); err == nil {
		out, err := exec.Command("tshark", "-r", ex.Path, "-T", "fields", "-e", "frame.number").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		if got := strings.Count(string(out), "\n"); got != packets {
			t.Fatalf("tshark reads %d packets in the export, want %d", got, packets)
		}
		out, err = exec.Command("tshark", "-r", ex.Path, "-Y", "tcp.analysis.retransmission", "-T", "fields", "-e", "frame.number").Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		if n := strings.Count(string(out), "\n"); n != 0 {
			t.Fatalf("tshark sees %d retransmissions in the export: packets duplicated", n)
		}
	}
}

// TestImportAppliesRetention is issue 15's first data bug: limits given to
// import were only enforced by a one-minute timer that a short import
// never reached, and nothing was said.
func TestImportAppliesRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("imports through the wasm dissectors")
	}
	data := t.TempDir()
	dir := t.TempDir()
	old := filepath.Join(dir, "old.pcap")
	if r := ks(t, data, "sample", "--scenario", "cascade", "-n", "20", "--start", "2017-03-01T10:00:00Z", old); r.code != 0 {
		t.Fatalf("sample: %+v", r)
	}
	fresh := sample(t, 50)
	oldPackets, freshPackets := countPackets(t, old), countPackets(t, fresh)
	first := importJ(t, data, old, fresh)
	if len(first) != 2 || first[0].Retention != nil || first[1].Retention != nil {
		t.Fatalf("retention reported without limits: %+v", first)
	}
	oldRecords := first[0].Stored.Records.New

	// A 2017 capture is entirely older than one hour from now: all of
	// it goes (records, flows, packets), and the import says so.
	r := ks(t, data, "import", "--retention-age", "1h", old)
	if r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	wantLine := "retention (age 1h, counted from now): dropped " + strconv.FormatInt(oldRecords, 10) + " records, 3 flows, " + itoa(oldPackets) + " packets"
	if !strings.Contains(r.stdout, wantLine) || !regexp.MustCompile(`warning: every packet of \S+old.pcap \(captured 2017-03-01 10:00:00 to .*\) is older than the 1h age limit`).MatchString(r.stdout) {
		t.Fatalf("import --retention-age 1h of a 2017 capture; want %q and a warning:\n%s", wantLine, r.stdout)
	}
	if n := len(calls(t, data)); n != 50 {
		t.Fatalf("%d calls left, want the 50 of the fresh capture", n)
	}
	b, err := packetlog.NewReader(filepath.Join(data, "packets"), packetlog.Options{}).Boundaries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b.Packets != int64(freshPackets) || b.Oldest.Year() == 2017 {
		t.Fatalf("packet log: %+v, want the %d fresh packets only", b, freshPackets)
	}

	// The limit is saved: the next import, given no flag, applies it
	// too, and -o json says what went.
	res := importJ(t, data, old)
	ret := res[0].Retention
	if ret == nil || ret.Age != "1h" || ret.Cutoff == nil || time.Since(*ret.Cutoff) < time.Hour-time.Minute ||
		ret.Dropped.Records != int(oldRecords) || ret.Dropped.Flows != 3 || ret.Dropped.Packets != int64(oldPackets) || !strings.Contains(ret.Warning, "every packet of") {
		t.Fatalf("second import with the saved age limit: %+v", ret)
	}

	// --retention-age 0 clears it; a size limit far below the store's
	// size drops the oldest records first: the 2017 ones, then some or
	// all of the fresh ones (size retention works from an estimate of
	// the bytes a deletion frees, see storage.ApplyRetention).
	res = importJ(t, data, "--retention-age", "0", "--retention-size", "1000", old)
	ret = res[0].Retention
	left := calls(t, data)
	if ret == nil || ret.Age != "" || ret.Cutoff != nil || ret.Bytes != 1000 || ret.Warning != "" ||
		ret.Dropped.Records < int(oldRecords) || ret.Dropped.Records != int(oldRecords)+50-len(left) {
		t.Fatalf("import --retention-size 1000: %+v, %d calls left", ret, len(left))
	}
	for _, c := range left {
		if c.Timestamp.Year() == 2017 {
			t.Fatalf("size retention kept a 2017 call and dropped newer ones")
		}
	}
}

// TestHubAppliesSavedRetentionAtStartup checks that a hub started on a
// store whose saved limits its data has aged past drops that data before
// serving it, and says so.
func TestHubAppliesSavedRetentionAtStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("imports through the wasm dissectors")
	}
	data := t.TempDir()
	old := filepath.Join(t.TempDir(), "old.pcap")
	if r := ks(t, data, "sample", "--scenario", "cascade", "-n", "20", "--start", "2017-03-01T10:00:00Z", old); r.code != 0 {
		t.Fatalf("sample: %+v", r)
	}
	res := importJ(t, data, old)
	records := res[0].Stored.Records.New
	packets := countPackets(t, old)
	// Data that aged past a limit while nothing wrote: the limit is
	// saved as an import given it would save it, without the import
	// applying it.
	st, err := storage.Open(context.Background(), storage.Options{Dir: filepath.Join(data, "store")})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveRetention(context.Background(), storage.RetentionLimits{Age: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	h := startHubProcess(t, data)
	want := "retention (age 1h, counted from now): dropped " + strconv.FormatInt(records, 10) + " records, 3 flows, " + itoa(packets) + " packets"
	if !strings.Contains(h.stderr(), want) {
		t.Fatalf("hub stderr lacks %q:\n%s", want, h.stderr())
	}
	if code := h.stop(t); code != 0 {
		t.Fatalf("hub exit %d", code)
	}
	if n := len(calls(t, data)); n != 0 {
		t.Fatalf("%d calls left after the hub applied the limit", n)
	}
}
