package main_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/plugins/devkit"
	"github.com/kubeshark-wasm/kubeshark/plugins/plugintest"
)

// TestPluginNewBuildTest: for each language, `plugin new` → `plugin build`
// → `plugin test` on a capture of real traffic the test makes, then the
// golden file: written by --update, matched, and a changed one fails with
// the difference shown.
func TestPluginNewBuildTest(t *testing.T) {
	data, work := t.TempDir(), t.TempDir()
	pcap := filepath.Join(work, "traffic.pcap")
	plugintest.Capture(t, pcap, 2, "alice", "bob")

	// Bad input first: each names what is wrong and changes nothing.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plugin", "new", "Bad-Name"}, "plugin name \"Bad-Name\""},
		{[]string{"plugin", "new", "http", "--dir", filepath.Join(work, "http")}, "built-in dissector"},
		{[]string{"plugin", "new", "redis", "--dir", filepath.Join(work, "redis")}, "built-in dissector"},
		{[]string{"plugin", "new", "x", "--lang", "cobol"}, "want go, c or rust"},
		{[]string{"plugin", "build", work}, "not a plugin project"},
		{[]string{"plugin", "test", pcap, pcap}, "want a plugin project directory or a .wasm module"},
	} {
		if r := ks(t, data, tc.args...); r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: %+v, want an error with %q", tc.args, r, tc.want)
		}
	}

	for _, lang := range devkit.Langs {
		t.Run(string(lang), func(t *testing.T) {
			var err error
			switch lang {
			case devkit.C:
				_, err = devkit.Clang()
			case devkit.Rust:
				_, err = devkit.RustC()
			}
			if err != nil {
				t.Skipf("%v; `make deps` installs it", err)
			}
			name := "demo" + string(lang)
			dir := filepath.Join(work, name)
			if r := ks(t, data, "plugin", "new", name, "--lang", string(lang), "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "README.md") ||
				!strings.Contains(r.stdout, filepath.Join(dir, "testdata", "capture.sh")) ||
				strings.Count(r.stdout, "kubeshark-sdk/") > 1 {
				t.Fatalf("new: %+v, want the files, the SDK in one line, and the next steps with the capture script", r)
			}
			if r := ks(t, data, "plugin", "new", name, "--lang", string(lang), "--dir", dir); r.code == 0 || !strings.Contains(r.stderr, "refusing to overwrite") {
				t.Fatalf("new over a project: %+v", r)
			}
			if r := ks(t, data, "plugin", "build", dir); r.code != 0 || !strings.Contains(r.stdout, "built "+filepath.Join(dir, name+".wasm")) ||
				!strings.HasPrefix(r.stderr, "building the "+string(lang)+" plugin in "+dir) {
				t.Fatalf("build: %+v", r)
			}
			// No capture yet: each way of asking says how to get one.
			for _, args := range [][]string{{dir}, {dir, filepath.Join(dir, "testdata", "*.pcap")}, {"--update", dir}} {
				if r := ks(t, data, append([]string{"plugin", "test"}, args...)...); r.code == 0 || !strings.Contains(r.stderr, filepath.Join(dir, "testdata", "capture.sh")) {
					t.Errorf("plugin test %v before any capture: %+v, want the way to record one", args, r)
				}
			}
			// No golden file yet: the records are printed.
			r := ks(t, data, "plugin", "test", dir, pcap)
			if r.code != 0 || strings.Count(r.stdout, `"protocol":"`+name+`"`) != 4 || !strings.Contains(r.stdout, `"response_fields":{"`+name+`_n":2}`) || !strings.Contains(r.stderr, "--update") {
				t.Fatalf("test without a golden file: %+v", r)
			}
			if r := ks(t, data, "plugin", "test", "--update", dir, pcap); r.code != 0 || !strings.Contains(r.stdout, "wrote 4 records") {
				t.Fatalf("test --update: %+v", r)
			}
			golden := filepath.Join(dir, "testdata", "records.golden")
			if r := ks(t, data, "plugin", "test", dir, pcap); r.code != 0 || !strings.Contains(r.stdout, "ok: 4 records match") || !strings.Contains(r.stderr, "4 records from 1 capture\n") {
				t.Fatalf("test against its golden file: %+v", r)
			}
			// With no capture named, a project's own testdata/ captures.
			if b, err := os.ReadFile(pcap); err != nil {
				t.Fatal(err)
			} else if err := os.WriteFile(filepath.Join(dir, "testdata", "sample.pcap"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			if r := ks(t, data, "plugin", "test", dir); r.code != 0 || !strings.Contains(r.stdout, "ok: 4 records match") {
				t.Fatalf("test on the project's testdata/: %+v", r)
			}
			// A changed expectation fails and shows the line.
			b, _ := os.ReadFile(golden)
			os.WriteFile(golden, []byte(strings.Replace(string(b), `"`+name+`_name":"bob"`, `"`+name+`_name":"bobby"`, 1)), 0o644)
			if r := ks(t, data, "plugin", "test", dir, pcap); r.code != 1 || !strings.Contains(r.stderr, "records differ from the golden file") || !strings.Contains(r.stderr, `-{"protocol":"`+name+`","method":"PING","path":"bob"`) || !strings.Contains(r.stderr, "bobby") || !strings.Contains(r.stderr, "with --update keeps them") {
				t.Fatalf("test against a changed golden file: %+v", r)
			}
			os.WriteFile(golden, b, 0o644)
			// A changed source is rebuilt before the test: here the
			// protocol's name in its records, which the golden file catches.
			src := map[devkit.Lang]string{devkit.Go: "main.go", devkit.C: name + ".c", devkit.Rust: "src/lib.rs"}[lang]
			code, _ := os.ReadFile(filepath.Join(dir, src))
			later := time.Now().Add(2 * time.Second)
			os.WriteFile(filepath.Join(dir, src), []byte(strings.Replace(string(code), `"PONG"`, `"PONGED"`, 1)), 0o644)
			os.Chtimes(filepath.Join(dir, src), later, later)
			if r := ks(t, data, "plugin", "test", dir, pcap); r.code != 1 || !strings.Contains(r.stderr, "built ") || !strings.Contains(r.stderr, `"status_text":"PONGED"`) {
				t.Fatalf("test after a source change: %+v", r)
			}
			if lang == devkit.C {
				scaffoldCapture(t, dir, name)
			}
			// The project's own test: its Makefile (and for Go, its unit
			// test), with this kubeshark and the capture.
			if _, err := exec.LookPath("make"); err == nil {
				os.WriteFile(golden, b, 0o644)
				os.WriteFile(filepath.Join(dir, src), code, 0o644)
				cmd := exec.Command("make", "-C", dir, "test", "KUBESHARK="+binary_, "CAPTURES="+pcap)
				if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "ok: 4 records match") {
					t.Fatalf("make test: %v\n%s", err, out)
				}
			}
			// The module alone, against the same golden file.
			if r := ks(t, data, "plugin", "test", "--golden", golden, filepath.Join(dir, name+".wasm"), pcap); r.code != 0 || !strings.Contains(r.stdout, "ok: 4 records match") {
				t.Fatalf("test of the module: %+v", r)
			}
		})
	}
}

// scaffoldCapture runs the project's testdata/capture.sh, which records
// real traffic of the scaffolded protocol with tcpdump, and checks that the
// plugin makes its two records of it.
func scaffoldCapture(t *testing.T, dir, name string) {
	t.Helper()
	for _, tool := range []string{"tcpdump", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("testdata/capture.sh not run: %s is not installed", tool)
			return
		}
	}
	if os.Geteuid() != 0 {
		t.Log("testdata/capture.sh not run: tcpdump needs root")
		return
	}
	// The script refuses a capture tcpdump dropped packets from (a busy
	// machine; the examples' tests meet the same), and one may still lack
	// packets tcpdump never saw: either is made again, at most three times
	// in all.
	var last string
	for attempt := 1; attempt <= 3; attempt++ {
		pcap := filepath.Join(t.TempDir(), "sample.pcap")
		cmd := exec.Command(filepath.Join(dir, "testdata", "capture.sh"), pcap)
		cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", freePort(t)))
		if out, err := cmd.CombinedOutput(); err != nil {
			last = fmt.Sprintf("testdata/capture.sh: %v\n%s", err, out)
			t.Logf("capture %d: %s", attempt, last)
			continue
		}
		r := ks(t, t.TempDir(), "plugin", "test", filepath.Join(dir, name+".wasm"), pcap)
		if r.code == 0 && strings.Count(r.stdout, `"protocol":"`+name+`"`) == 2 && strings.Contains(r.stdout, `"path":"bob"`) {
			return
		}
		last = fmt.Sprintf("%+v", r)
		t.Logf("capture %d: %s", attempt, last)
	}
	t.Fatalf("the plugin on testdata/capture.sh's capture: %s", last)
}

// TestPluginLyingManifest: a plugin whose manifest lies about its fields
// (plugins/testdata/liar) costs nothing but the lies. `plugin test` names
// each and fails; an import stores its records; filters on the lies match
// nothing or are refused, and its honest field filters as usual.
func TestPluginLyingManifest(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	module := filepath.Join(dir, "liar.wasm")
	if err := devkit.CompileC(context.Background(), module, []string{"../../sdk/c"}, "../../plugins/testdata/liar/liar.c"); errors.Is(err, devkit.ErrToolchain) {
		t.Skipf("%v; `make deps` installs it", err)
	} else if err != nil {
		t.Fatal(err)
	}
	pcap := filepath.Join(dir, "pingpong.pcap")
	plugintest.Capture(t, pcap, 3, "alice", "bob", "carol")

	r := ks(t, data, "plugin", "test", module, pcap)
	if r.code != 1 || strings.Count(r.stdout, "\n") != 9 || !strings.Contains(r.stderr, `response field "liar_n" is a string, the manifest says int`) ||
		!strings.Contains(r.stderr, `"liar_undeclared" is not in the manifest`) || !strings.Contains(r.stderr, "disagree with liar's manifest in 2 ways") {
		t.Fatalf("plugin test of the liar: %+v", r)
	}
	if r := ks(t, data, "import", "--dissector", module, pcap); r.code != 0 || !strings.Contains(r.stdout, "liar 9") {
		t.Fatalf("import: %+v", r)
	}
	if recs := calls(t, data, "--filter", `liar_name == "bob"`); len(recs) != 3 {
		t.Errorf(`liar_name == "bob": %d records, want 3`, len(recs))
	}
	for _, f := range []string{"liar_n > 1", "liar_never"} {
		if recs := calls(t, data, "--filter", f); len(recs) != 0 {
			t.Errorf("%s: %d records, want none", f, len(recs))
		}
	}
	if r := ks(t, data, "calls", "--filter", "liar_undeclared == 2"); r.code == 0 || !strings.Contains(r.stderr, "undeclared reference to 'liar_undeclared'") {
		t.Errorf("a filter on an undeclared field: %+v", r)
	}
}
