package main_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

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
	whole, _ := os.ReadFile(sample(t, 60))
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, whole[:len(whole)*2/3], 0o644)

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
		{[]string{"calls", "--since", "yesterday"}, "--since"},
		{[]string{"call", "0000"}, `no call with id "0000"`},
		{[]string{"import", pcap, "--dissector", text}, "not a valid WebAssembly module"},
	} {
		r := ks(t, data, tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("kubeshark %v: exit %d, stderr %q; want a one-line error containing %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if r := ks(t, data, "import", odd); !strings.Contains(r.stderr, "147") {
		t.Errorf("unsupported link type error should name it: %q", r.stderr)
	}
	// The truncated capture's readable part was stored; nothing earlier lost.
	recs := calls(t, data)
	if len(recs) <= 40 || len(recs) >= 100 {
		t.Fatalf("after the failed imports: %d calls, want the 40 from before plus part of the cut capture", len(recs))
	}
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
