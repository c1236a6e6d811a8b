package main_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// These tests drive the real kubeshark binary, built the way `make build`
// builds it: with the dissectors' WebAssembly builds embedded.

var binary_ string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "kubeshark-cli")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if wasm, _ := filepath.Glob(filepath.Join(root, "dissectors", "bin", "*.wasm")); len(wasm) == 0 {
			println("SKIPPED: dissectors/bin has no WebAssembly builds; run `make test` (it runs `make wasm` first)")
			return 0
		}
		binary_ = filepath.Join(dir, "kubeshark")
		cmd := exec.Command("go", "build", "-o", binary_, ".")
		cmd.Dir = filepath.Join(root, "cmd", "kubeshark")
		if out, err := cmd.CombinedOutput(); err != nil {
			println("building kubeshark:", err.Error(), string(out))
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func ks(t *testing.T, data string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary_, append([]string{"--data", data}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func sample(t *testing.T, n int) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "sample.pcap")
	if r := ks(t, t.TempDir(), "sample", f, "-n", itoa(n)); r.code != 0 {
		t.Fatalf("sample: %+v", r)
	}
	return f
}

func itoa(n int) string { return jsonInt(n) }

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func calls(t *testing.T, data string, args ...string) []sdk.Record {
	t.Helper()
	r := ks(t, data, append([]string{"calls", "-o", "json", "--limit", "0"}, args...)...)
	if r.code != 0 {
		t.Fatalf("calls: %+v", r)
	}
	var recs []sdk.Record
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil {
		t.Fatalf("calls output: %v\n%s", err, r.stdout)
	}
	return recs
}

func TestVersion(t *testing.T) {
	r := ks(t, t.TempDir(), "version")
	if r.code != 0 || !strings.Contains(r.stdout, "dissector ABI v1") || !strings.Contains(r.stdout, "wazero v1.12") {
		t.Fatalf("%+v", r)
	}
}

func TestImportListShow(t *testing.T) {
	data := t.TempDir()
	pcap := sample(t, 120)
	r := ks(t, data, "import", pcap)
	if r.code != 0 || !strings.Contains(r.stdout, "records:  120 (http 120)") || !strings.Contains(r.stdout, "8 TCP") {
		t.Fatalf("import: %+v", r)
	}
	recs := calls(t, data)
	if len(recs) != 120 {
		t.Fatalf("%d calls", len(recs))
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Timestamp.Before(recs[i-1].Timestamp) || recs[i].ID <= recs[i-1].ID {
			t.Fatalf("calls not in time order at %d", i)
		}
	}
	failed := calls(t, data, "--filter", "http && status_code >= 500")
	if len(failed) == 0 {
		t.Fatal("no 5xx found")
	}
	for _, f := range failed {
		if f.Status < 500 || !f.Failed {
			t.Fatalf("filter returned %+v", f)
		}
	}
	// KFL: header maps with lower-case names, string functions, a field
	// from the http1 manifest (which loads the dissectors' manifests), and
	// the same selection spelt differently.
	for _, tc := range []struct {
		filter string
		want   func(sdk.Record) bool
	}{
		{`map_get(request.headers, "user-agent", "").contains("synth")`, func(r sdk.Record) bool { return true }},
		{`http && method == "GET" && url.contains("/api/users")`, func(r sdk.Record) bool {
			return r.Method == "GET" && strings.Contains(r.Path, "/api/users")
		}},
		{`failed && status >= 500 && dst.port == 80`, func(r sdk.Record) bool { return r.Failed && r.Status >= 500 && r.Dst.Port == 80 }},
		{`failed`, func(r sdk.Record) bool { return r.Failed }},
		{`size(response.interim) == 0 && elapsed_time > 0`, func(r sdk.Record) bool { return true }},
		{`redis || dns`, func(r sdk.Record) bool { return false }},
	} {
		got := calls(t, data, "--filter", tc.filter)
		n := 0
		for _, r := range recs {
			if tc.want(r) {
				n++
			}
		}
		if len(got) != n {
			t.Errorf("--filter %s: %d calls, want %d", tc.filter, len(got), n)
		}
	}
	if r := ks(t, data, "calls", "--filter-help"); r.code != 0 || !strings.Contains(r.stdout, "# KFL") || !strings.Contains(r.stdout, "`response.interim` | list") {
		t.Errorf("calls --filter-help: %+v", r)
	}
	// One call in full, with its response body.
	r = ks(t, data, "call", failed[0].ID)
	var one sdk.Record
	if err := json.Unmarshal([]byte(r.stdout), &one); err != nil || r.code != 0 {
		t.Fatalf("call: %v %+v", err, r)
	}
	if one.Response == nil || one.Response.Body == "" || one.ElapsedMs == nil || one.Request.Headers == nil {
		t.Fatalf("call detail incomplete: %+v", one)
	}
	// Table output names the columns and the calls.
	r = ks(t, data, "calls", "--limit", "5")
	if !strings.Contains(r.stdout, "METHOD") || strings.Count(r.stdout, "\n") != 7 {
		t.Fatalf("table:\n%s", r.stdout)
	}
	// Importing the same capture again stores nothing twice.
	if r := ks(t, data, "import", pcap); r.code != 0 {
		t.Fatalf("re-import: %+v", r)
	}
	if n := len(calls(t, data)); n != 120 {
		t.Fatalf("after re-import: %d calls", n)
	}
	// Time window: everything is after the first call's time, nothing before.
	since := recs[10].Timestamp.Format(time.RFC3339Nano)
	if n := len(calls(t, data, "--since", since)); n != 110 {
		t.Fatalf("--since: %d calls, want 110", n)
	}
	if n := len(calls(t, data, "--until", since)); n != 10 {
		t.Fatalf("--until: %d calls, want 10", n)
	}
}

func TestBadInputIsAClearErrorAndLosesNothing(t *testing.T) {
	data := t.TempDir()
	pcap := sample(t, 40)
	if r := ks(t, data, "import", pcap); r.code != 0 {
		t.Fatal(r)
	}
	before := calls(t, data)
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello world, not a capture"), 0o644)
	// A pcap header with link type 147 (a user DLT) and one packet.
	odd := filepath.Join(dir, "odd.pcap")
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 147)
	os.WriteFile(odd, hdr, 0o644)
	// Cut in the middle of a packet halfway through the capture by packet
	// count, not by bytes: the sample's one 64 KiB response can fill the
	// last third of its bytes, and a cut inside it would lose no call.
	whole, _ := os.ReadFile(sample(t, 60))
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, whole[:midPacket(t, whole)], 0o644)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", filepath.Join(dir, "missing.pcap")}, "missing.pcap: no such file"},
		{[]string{"import", text}, "notes.txt: not a pcap or pcapng file"},
		{[]string{"import", odd}, "odd.pcap"},
		{[]string{"import", cut}, "cut.pcap: truncated at byte"},
		{[]string{"import", pcap, text}, "notes.txt"},
		{[]string{"calls", "--filter", "status>>5"}, `--filter: kfl: 1:8: Syntax error: extraneous input '>'`},
		{[]string{"calls", "--filter", "http && stauts >= 500"}, `--filter: kfl: 1:9: undeclared reference to 'stauts' (did you mean 'status'?)`},
		{[]string{"calls", "--filter", "status_code"}, `--filter: kfl: 1:1: a filter must be a bool expression`},
		// A plugin's field, the plugin not installed here: where to look.
		{[]string{"calls", "--filter", "memcached && memcached_hits == 0"}, `undeclared reference to 'memcached_hits'; calls --filter-help lists the variables, a plugin's once it is installed and enabled in this data directory (kubeshark plugin list)`},
		{[]string{"calls", "--since", "yesterday"}, "--since"},
		{[]string{"call", "0000"}, `no call with id "0000"`},
		// A missing argument names the command's usage, not only a count.
		{[]string{"call"}, "accepts 1 arg(s), received 0 (usage: kubeshark call ID [flags]"},
		{[]string{"sample", "--scenario", "proxy"}, "(usage: kubeshark sample FILE [flags]"},
		{[]string{"plugin", "sign"}, "(usage: kubeshark plugin sign FILE.wasm [flags]"},
		{[]string{"plugin", "push", "pingpong"}, "(usage: kubeshark plugin push NAME|FILE.wasm oci://REGISTRY/REPO:TAG [flags]"},
		{[]string{"import", pcap, "--dissector", text}, "not a valid WebAssembly module"},
		// Flag values that make no sense are refused (issue 15, item 8).
		{[]string{"import", pcap, "--workers", "-3"}, "--workers -3: want a number of workers"},
		{[]string{"import", pcap, "--packets-size", "-1"}, `"--packets-size" flag: a size cannot be negative`},
		{[]string{"import", pcap, "--retention-size", "1 gigabyte"}, `"--retention-size" flag: not a size`},
		{[]string{"import", pcap, "--retention-age", "-1h"}, `"--retention-age" flag: an age cannot be negative`},
	} {
		r := ks(t, data, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("kubeshark %v: exit %d, stderr %q; want a one-line error containing %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	// Human sizes and days are understood.
	if r := ks(t, data, "import", pcap, "--retention-size", "1GB", "--packets-size", "500MiB", "--retention-age", "3650d"); r.code != 0 {
		t.Errorf("import with human sizes: %+v", r)
	}
	if r := ks(t, data, "import", odd); !strings.Contains(r.stderr, "147") {
		t.Errorf("unsupported link type error should name it: %q", r.stderr)
	}
	// The truncated capture's readable part was stored; nothing earlier lost.
	recs := calls(t, data)
	if len(recs) <= 40 || len(recs) >= 100 {
		t.Fatalf("after the failed imports: %d calls, want the 40 from before plus part of the cut capture", len(recs))
	}
	have := map[string]bool{}
	for _, r := range recs {
		have[r.ID] = true
	}
	for _, r := range before {
		if !have[r.ID] {
			t.Fatalf("call %s from before the failed imports is gone", r.ID)
		}
	}
}

// midPacket returns an offset ten bytes into the record of the classic pcap
// capture b that starts its second half by packet count.
func midPacket(t *testing.T, b []byte) int {
	t.Helper()
	var offs []int
	for off := 24; off+16 <= len(b); {
		offs = append(offs, off)
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	if len(offs) < 4 {
		t.Fatalf("sample capture has %d packets", len(offs))
	}
	return offs[len(offs)/2] + 10
}

func TestDissectorsListing(t *testing.T) {
	r := ks(t, t.TempDir(), "dissectors", "-o", "json")
	var ds []struct {
		Name      string   `json:"name"`
		Version   string   `json:"version"`
		Protocols []string `json:"protocols"`
		ABI       int      `json:"abi_version"`
		Source    string   `json:"source"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ds); err != nil || r.code != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	found := false
	for _, d := range ds {
		if d.Name == "http" && d.ABI == 1 && d.Source == "built-in" && d.Version != "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("http dissector not listed: %+v", ds)
	}
}

func TestHostilePluginIsQuarantinedAndImportCompletes(t *testing.T) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		t.Skip("wat2wasm (Debian package wabt) is not installed; `make deps` installs it")
	}
	tmpl, err := os.ReadFile("../../runtime/wasm/testdata/hostile.wat.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	src := string(tmpl)
	for k, v := range map[string]string{"IMPORTS": "", "MARKER": "kubeshark_abi_v1", "INIT": "", "MAXMEM": "",
		"PROBE": "(i32.const 100)", "FEED": "unreachable"} {
		src = strings.ReplaceAll(src, "{{"+k+"}}", v)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "h.wat"), []byte(src), 0o644)
	plugin := filepath.Join(dir, "hostile.wasm")
	if out, err := exec.Command("wat2wasm", filepath.Join(dir, "h.wat"), "-o", plugin).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	data := t.TempDir()
	pcap := sample(t, 60)
	// The hostile module claims every stream with full confidence and traps
	// on every feed: it must be quarantined, and HTTP must still be found on
	// the streams that are left.
	r := ks(t, data, "import", pcap, "--dissector", plugin, "--workers", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "instance faults") {
		t.Fatalf("import with a hostile plugin: %+v", r)
	}
	r = ks(t, data, "dissectors", "--dissector", plugin)
	if !strings.Contains(r.stdout, "QUARANTINED") || !strings.Contains(r.stdout, "hostile.wasm") {
		t.Fatalf("dissectors should report the quarantine:\n%s", r.stdout)
	}
	if n := len(calls(t, data)); n == 0 {
		t.Fatal("no HTTP records: the hostile plugin took the import down with it")
	}
}

func TestKillDuringImportLeavesAUsableStore(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a large capture")
	}
	data := t.TempDir()
	small := sample(t, 30)
	if r := ks(t, data, "import", small); r.code != 0 {
		t.Fatal(r)
	}
	big := sample(t, 20000)
	cmd := exec.Command(binary_, "--data", data, "import", big, "--workers", "1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	recs := calls(t, data)
	if len(recs) < 30 {
		t.Fatalf("after kill -9: %d calls, want at least the 30 committed before", len(recs))
	}
	t.Logf("store after kill -9 holds %d calls", len(recs))
}

// cascade writes the cascade scenario starting at start (RFC 3339).
func cascade(t *testing.T, start string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cascade.pcap")
	if r := ks(t, t.TempDir(), "sample", "--scenario", "cascade", "--start", start, f); r.code != 0 {
		t.Fatalf("sample: %+v", r)
	}
	return f
}

// Time windows take the forms the MCP tools take; an empty answer says so
// and where the data is; table times say their zone; a time of day says
// which day it was placed on (issue 15, items 4, 5, 14 and 21).
func TestCallsWindowsZonesAndEmptyAnswers(t *testing.T) {
	data := t.TempDir()
	if r := ks(t, data, "calls"); r.code == 0 || !strings.Contains(r.stderr, "no store") {
		t.Fatalf("calls before any import: %+v", r)
	}
	if r := ks(t, data, "import", cascade(t, "2026-11-20T14:00:00Z")); r.code != 0 {
		t.Fatal(r)
	}
	all := calls(t, data)
	n := func(args ...string) int { return len(calls(t, data, args...)) }
	between := func(a, b string) int {
		ta, _ := time.Parse(time.RFC3339, a)
		tb, _ := time.Parse(time.RFC3339, b)
		c := 0
		for _, r := range all {
			if !r.Timestamp.Before(ta) && r.Timestamp.Before(tb) {
				c++
			}
		}
		return c
	}
	want := between("2026-11-20T14:00:30Z", "2026-11-20T14:00:40Z")
	if want == 0 || want == len(all) {
		t.Fatalf("the cascade has %d calls, %d of them in 14:00:30–14:00:40", len(all), want)
	}
	for _, tc := range []struct {
		since, until string
		want         int
	}{
		{"2026-11-20T14:00:30Z", "2026-11-20T14:00:40Z", want},
		{"14:00:30", "14:00:40", want},
		{"2026-11-20 14:00:30", "2026-11-20T14:00:40", want},
		{"2026-11-20", "2026-11-21", len(all)},
		{"100000d", "", len(all)},
		{"", "1d", len(all)},         // the data is older than a day
		{"1d", "", 0},                // and nothing is newer
		{"now-1d", "now", 0},         // as MCP writes it
		{"48h ago", "-1h", 0},        // likewise
		{"", "2026-11-20", 0},        // before the capture
		{"1763647200", "", len(all)}, // Unix seconds: 2025-11-20, before all of it
	} {
		args := []string{}
		if tc.since != "" {
			args = append(args, "--since", tc.since)
		}
		if tc.until != "" {
			args = append(args, "--until", tc.until)
		}
		if got := n(args...); got != tc.want {
			t.Errorf("calls %v: %d calls, want %d", args, got, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", "14:01", "--until", "14:00"}, "--until 2026-11-20T14:00:00Z is not after --since 2026-11-20T14:01:00Z"},
		{[]string{"--since", "1h", "--until", "2h"}, "is not after --since"},
		{[]string{"--since", "2026-11-21", "--until", "2026-11-20"}, "is not after"},
		{[]string{"--until", "tomorrow"}, `--until "tomorrow" is not a time`},
	} {
		r := ks(t, data, append([]string{"calls"}, tc.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("calls %v: exit %d, stderr %q; want an error containing %q", tc.args, r.code, r.stderr, tc.want)
		}
	}

	// A time of day says which day it was placed on.
	r := ks(t, data, "calls", "--since", "14:00:30", "--until", "14:00:31")
	if r.code != 0 || !strings.Contains(r.stderr, "note: times of day were taken on 2026-11-20 (UTC)") || strings.Contains(r.stderr, "several days") {
		t.Fatalf("time of day on one day: %+v", r)
	}
	// The table says its times are UTC; --local shows the local zone's
	// offset and reads times of day in it.
	if !strings.HasPrefix(r.stdout, "TIME (UTC)") || !strings.Contains(r.stdout, "2026-11-20 14:00:30.") {
		t.Fatalf("table times:\n%s", r.stdout)
	}
	local := exec.Command(binary_, "--data", data, "calls", "--local", "--since", "15:00:30", "--until", "15:00:31")
	local.Env = append(os.Environ(), "TZ=Europe/Berlin")
	out, err := local.Output()
	if err != nil || !strings.HasPrefix(string(out), "TIME (local)") || !strings.Contains(string(out), "2026-11-20 15:00:30.") ||
		!strings.Contains(string(out), "+01:00") || strings.Count(string(out), "\n") != strings.Count(r.stdout, "\n") {
		t.Fatalf("--local in Europe/Berlin: %v\n%s\nUTC:\n%s", err, out, r.stdout)
	}

	// Nothing matches: say so, and where the data is.
	for _, args := range [][]string{{"--since", "1h"}, {"--filter", "status_code == 418"}} {
		r := ks(t, data, append([]string{"calls"}, args...)...)
		if r.code != 0 || strings.Contains(r.stdout, "TIME") ||
			!strings.Contains(r.stdout, "no calls match ("+args[0]) ||
			!strings.Contains(r.stdout, "the store holds "+itoa(len(all))+" calls from 2026-11-20 14:00:00.000Z to 2026-11-20 14:00:59") {
			t.Errorf("calls %v with no match: %+v", args, r)
		}
		r = ks(t, data, append([]string{"calls", "-o", "json"}, args...)...)
		if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" || !strings.Contains(r.stderr, "no calls match") {
			t.Errorf("calls -o json %v with no match: %+v", args, r)
		}
	}

	// A second capture from two days before: "14:00:30" still means the
	// newest day, and the note warns that the store spans several.
	if r := ks(t, data, "import", cascade(t, "2026-11-18T14:00:00Z")); r.code != 0 {
		t.Fatal(r)
	}
	if got := n("--since", "14:00:30", "--until", "14:00:40"); got != want {
		t.Fatalf("14:00:30–14:00:40 with two days held: %d calls, want the %d of the newest day", got, want)
	}
	r = ks(t, data, "calls", "--since", "14:00:30", "--until", "14:00:40")
	if !strings.Contains(r.stderr, "taken on 2026-11-20") || !strings.Contains(r.stderr, "spans several days (2026-11-18 to 2026-11-20)") {
		t.Fatalf("time of day on a store of two days: %+v", r)
	}
}

// A command that waits for the store says which process it waits for,
// whether a first import is still creating the store or an import holds it
// (issue 15, item 9).
func TestWaitingNamesTheHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a large capture")
	}
	data := t.TempDir()
	big := sample(t, 20000)
	imp := exec.Command(binary_, "--data", data, "import", big, "--workers", "1")
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { imp.Wait(); close(done) }()
	defer func() { imp.Process.Kill(); <-done }()
	// The import records itself before it loads its dissectors.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(data, "store.holder.json")); err == nil {
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatal("the import recorded no holder within a minute")
		}
	}
	for _, phase := range []string{"creating", "using"} {
		if phase == "using" {
			// Once the store exists, the import holds it open.
			for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
				if _, err := os.Stat(filepath.Join(data, "store")); err == nil {
					break
				}
				if time.Since(start) > 3*time.Minute {
					t.Fatal("the import created no store")
				}
			}
		}
		c := exec.Command(binary_, "--data", data, "calls")
		stderr, _ := c.StderrPipe()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		line := make(chan string, 1)
		go func() {
			b := make([]byte, 512)
			n, _ := stderr.Read(b)
			line <- string(b[:n])
		}()
		var got string
		select {
		case got = <-line:
		case <-time.After(time.Minute):
		}
		c.Process.Kill()
		c.Wait()
		select {
		case <-done:
			t.Skipf("the import finished before the %s phase could be observed", phase)
		default:
		}
		pid := "(pid " + itoa(imp.Process.Pid)
		if !strings.Contains(got, "waiting for the store in "+data) || !strings.Contains(got, "import "+big) || !strings.Contains(got, pid) {
			t.Fatalf("calls while an import is %s the store says %q; want it to name the import and %s", phase, got, pid)
		}
		if phase == "creating" && !strings.Contains(got, "is creating it") && !strings.Contains(got, "is using it") {
			t.Fatalf("calls during a first import: %q", got)
		}
		if strings.Contains(got, "mcp or hub") || strings.Contains(got, "no store") {
			t.Fatalf("misleading wait message: %q", got)
		}
	}
}

// sample says what it wrote in words, and why the capture's addresses are
// not loopback's (issue 15, item 10).
func TestSampleOutputAndHelp(t *testing.T) {
	f := filepath.Join(t.TempDir(), "demo.pcap")
	r := ks(t, t.TempDir(), "sample", f, "-n", "40")
	if r.code != 0 || !strings.Contains(r.stdout, "wrote "+f+": 40 requests (GET ") || !strings.Contains(r.stdout, "40 responses (200 ") ||
		strings.ContainsAny(r.stdout, "{}") || strings.Contains(r.stdout, "map[") || !strings.Contains(r.stdout, "10.0.x.x") {
		t.Fatalf("sample output: %+v", r)
	}
	r = ks(t, t.TempDir(), "sample", "--help")
	requests := ""
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, "--requests") {
			requests = l
		}
	}
	if strings.Contains(requests, "(default 200)") || strings.Contains(requests, ") (default") ||
		!strings.Contains(requests, "http: default 200") || !strings.Contains(r.stdout, "cascade: default 60") ||
		!strings.Contains(r.stdout, "10.0.1.1:80") || !strings.Contains(r.stdout, "127.0.0.1") {
		t.Fatalf("sample --help:\n%s", r.stdout)
	}
	if r := ks(t, t.TempDir(), "sample", "-n", "0", f); r.code == 0 || !strings.Contains(r.stderr, "--requests 0: want at least 1") {
		t.Fatalf("sample -n 0: %+v", r)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil || !strings.Contains(string(readme), "10.0.1.1:80") {
		t.Fatalf("README does not explain the sample's addresses (%v)", err)
	}

	// The investigation's first command prints what the README shows,
	// after saying what it is doing.
	dir := t.TempDir()
	r = ks(t, t.TempDir(), "sample", "--scenario", "proxy", "--start", "2026-11-20T14:00:00Z", filepath.Join(dir, "incident.pcap"))
	shown := regexp.MustCompile("(?m)^#   (wrote incident\\.pcap: .*)\n#   (.*)$").FindStringSubmatch(string(readme))
	if shown == nil {
		t.Fatal("README shows no output of kubeshark sample --scenario proxy")
	}
	if got := strings.ReplaceAll(r.stdout, dir+string(filepath.Separator), ""); r.code != 0 || !strings.HasPrefix(got, shown[1]+" "+shown[2]+"\n") ||
		!strings.Contains(r.stderr, "recording the proxy incident") {
		t.Errorf("sample --scenario proxy: %+v\nwant stdout %q", r, shown[1]+" "+shown[2])
	}
	// One connection is one connection.
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Logf("redis-latency not run: redis-server is not installed (make deps)")
		return
	}
	if r := ks(t, t.TempDir(), "sample", "--scenario", "redis-latency", filepath.Join(dir, "redis.pcap")); r.code != 0 || !strings.Contains(r.stdout, "; 1 connection, ") {
		t.Errorf("sample --scenario redis-latency: %+v", r)
	}
}

// malformedCapture writes one HTTP/1.1 connection whose second request has
// a broken chunked body and no response: one dissector error, on a known
// connection. Its paths carry '&', which JSON output must keep as is.
func malformedCapture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "malformed.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := synth.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	c := w.Conn(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.1.1:8080"), start)
	for i, s := range []string{
		"GET /a?x=1&y=2 HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"POST /b?x=1&y=2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
	} {
		at := start.Add(time.Duration(i+1) * time.Millisecond)
		if i%2 == 0 {
			err = c.Client([]byte(s), at)
		} else {
			err = c.Server([]byte(s), at)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(start.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkSnakeCase fails on any JSON object key that is not snake_case.
func checkSnakeCase(t *testing.T, what string, doc []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, doc)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !snake.MatchString(k) {
					t.Errorf("%s: key %s%s is not snake_case", what, path, k)
				}
				walk(path+k+".", e)
			}
		case []any:
			for _, e := range v {
				walk(path, e)
			}
		}
	}
	walk(what, v)
}

// Dissector errors can be investigated: which dissector, which connection,
// which record, what error, in import's text and JSON, in -v's log and in
// `kubeshark dissectors` (issue 15, item 12); import's JSON is snake_case
// throughout (item 11); JSON output keeps '&' as it is (item 13).
func TestDissectorErrorsAreShownAndJSONIsClean(t *testing.T) {
	data := t.TempDir()
	pcap := malformedCapture(t)
	r := ks(t, data, "-v", "import", pcap, "-o", "json")
	if r.code != 0 {
		t.Fatal(r)
	}
	checkSnakeCase(t, "import -o json", []byte(r.stdout))
	var res []struct {
		Stats struct {
			DissectorErrors int `json:"dissector_errors"`
			ByDissector     map[string]struct {
				Count    int `json:"count"`
				Examples []struct {
					Kind, Stream, Conn, Record, Error string
				} `json:"examples"`
			} `json:"dissector_errors_by_dissector"`
			Decode struct {
				Packets int `json:"packets"`
			} `json:"decode"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res) != 1 {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	st := res[0].Stats
	http := st.ByDissector["http"]
	if st.DissectorErrors != 1 || http.Count != 1 || len(http.Examples) != 1 || st.Decode.Packets == 0 {
		t.Fatalf("import -o json: %+v", st)
	}
	e := http.Examples[0]
	if e.Kind != "malformed" || e.Conn != "tcp 10.0.0.1:40000 ↔ 10.0.1.1:8080" || e.Stream == "" || e.Record == "" || !strings.Contains(e.Error, "malformed") {
		t.Fatalf("example: %+v", e)
	}
	if !strings.Contains(r.stderr, "dissector error") || !strings.Contains(r.stderr, "record="+e.Record) {
		t.Fatalf("-v does not log the error:\n%s", r.stderr)
	}
	// The record named is the malformed one.
	bad := ks(t, data, "call", e.Record)
	if bad.code != 0 || !strings.Contains(bad.stdout, `"path": "/b?x=1&y=2"`) || strings.Contains(bad.stdout, `\u0026`) {
		t.Fatalf("call %s: %+v", e.Record, bad)
	}
	for _, format := range []string{"json", "jsonl"} {
		r := ks(t, data, "calls", "-o", format)
		if !strings.Contains(r.stdout, "/a?x=1&y=2") || strings.Contains(r.stdout, `\u0026`) {
			t.Errorf("calls -o %s escapes '&':\n%s", format, r.stdout)
		}
	}

	// The text summary lists it too.
	r = ks(t, data, "import", pcap)
	if !strings.Contains(r.stdout, "dissector errors: 1\n    http: 1\n      malformed on tcp 10.0.0.1:40000 ↔ 10.0.1.1:8080 (stream "+e.Stream+"), record "+e.Record+": ") {
		t.Fatalf("import text:\n%s", r.stdout)
	}
	// And `kubeshark dissectors` reports it for the last import.
	r = ks(t, data, "dissectors")
	if !strings.Contains(r.stdout, "1 error in last import (malformed on tcp 10.0.0.1:40000 ↔ 10.0.1.1:8080: ") {
		t.Fatalf("dissectors:\n%s", r.stdout)
	}
	r = ks(t, data, "dissectors", "-o", "json")
	checkSnakeCase(t, "dissectors -o json", []byte(r.stdout))
	if !strings.Contains(r.stdout, `"errors": {`) || !strings.Contains(r.stdout, `"record": "`+e.Record+`"`) {
		t.Fatalf("dissectors -o json:\n%s", r.stdout)
	}
}
