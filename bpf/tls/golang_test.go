package tls

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
)

// debianGo is the Go toolchain Debian ships (golang-1.19-go, installed by
// make deps): the tracer must handle what it builds as well as the current
// toolchain's output.
const debianGo = "/usr/lib/go-1.19/bin/go"

// buildGoApp builds testdata/goapp (testdata/tlsmini for a name starting
// so) with a toolchain ("" for the one running the test), with symbols or
// stripped, named name.
func buildGoApp(t *testing.T, dir, goTool, name string, stripped bool, env ...string) string {
	t.Helper()
	prog := "goapp"
	if strings.HasPrefix(name, "tlsmini") {
		prog = "tlsmini"
	}
	src, err := os.ReadFile("testdata/" + prog + "/main.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(dir, "src-"+name)
	os.MkdirAll(mod, 0o755)
	os.WriteFile(filepath.Join(mod, "main.go"), src, 0o644)
	os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module goapp\n\ngo 1.19\n"), 0o644)
	if goTool == "" {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	args := []string{"build", "-o", filepath.Join(dir, name)}
	if stripped {
		args = append(args, "-ldflags=-s -w")
	}
	cmd := exec.Command(goTool, append(args, ".")...)
	cmd.Dir = mod
	cmd.Env = append(append(os.Environ(), "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0", "GOTOOLCHAIN=local"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building goapp with %s: %v\n%s", goTool, err, out)
	}
	return filepath.Join(dir, name)
}

func startProc(t *testing.T, name string, args ...string) {
	t.Helper()
	startProcEnv(t, nil, name, args...)
}

// startClient starts a Go client with as many threads as the machine
// gives it: net/http reads and writes a connection on two goroutines.
func startClient(t *testing.T, name string, args ...string) {
	t.Helper()
	startProcEnv(t, nil, name, args...)
}

func startProcEnv(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// Go crypto/tls servers started before tracing, and clients started before
// (on a connection made before) or after it, built with and without
// symbols, by the current toolchain and by Debian's: both ends' plaintext
// is captured on the right 5-tuple.
func TestGoCryptoTLS(t *testing.T) {
	needRoot(t)
	n := newNet(t)
	dir := t.TempDir()
	cert, key := writeCert(t, dir, n.Peer)
	bins := map[string]string{
		"syms":  buildGoApp(t, dir, "", "goapp-syms", false),
		"strip": buildGoApp(t, dir, "", "goapp-strip", true),
	}
	ports := map[string]int{"syms": 9443, "strip": 9444, "119syms": 9445, "119strip": 9446}
	if _, err := os.Stat(debianGo); err == nil {
		bins["119syms"] = buildGoApp(t, dir, debianGo, "goapp-119syms", false)
		bins["119strip"] = buildGoApp(t, dir, debianGo, "goapp-119strip", true)
	} else {
		t.Logf("%s is not installed (make deps installs golang-1.19-go): Debian's Go builds not tested", debianGo)
	}
	for v, bin := range bins {
		addr := fmt.Sprintf("%s:%d", n.Peer, ports[v])
		startProc(t, "ip", "netns", "exec", n.NS, bin, "server", addr, cert, key)
		waitListen(t, addr)
	}
	// The stripped builds' clients start before tracing: their kept-alive
	// TLS connection predates the hooks. The others start after.
	early := func(v string) bool { return strings.HasSuffix(v, "strip") }
	for v, bin := range bins {
		if early(v) {
			startClient(t, bin, "client", fmt.Sprintf("https://%s:%d/go-%s", n.Peer, ports[v], v))
		}
	}
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	tr, c := startTracer(t, Config{NoOpenSSL: true})
	t.Logf("tracer started in %v", time.Since(t0))
	for v, bin := range bins {
		if !early(v) {
			startClient(t, bin, "client", fmt.Sprintf("https://%s:%d/go-%s", n.Peer, ports[v], v))
		}
	}
	for v := range bins {
		server := netip.MustParseAddrPort(fmt.Sprintf("%s:%d", n.Peer, ports[v]))
		comm := "goapp-" + v
		path := "/go-" + v
		req := c.wait(t, comm+" client sending", 10*time.Second, func(e Event) bool {
			return e.Comm == comm && e.Library == Go && e.Direction == Sent && e.Remote == server && bytes.HasPrefix(e.Data, []byte("GET "+path+" HTTP/1.1\r\n"))
		})
		if req.Local.Addr() != netip.MustParseAddr(n.Host) {
			t.Fatalf("%s's request from %s, want %s", comm, req.Local, n.Host)
		}
		c.wait(t, comm+" client receiving", 10*time.Second, func(e Event) bool {
			return e.Comm == comm && e.Library == Go && e.Direction == Received && e.Local == req.Local && bytes.Contains(e.Data, []byte("hello from go "+path))
		})
		c.wait(t, comm+" server receiving", 10*time.Second, func(e Event) bool {
			return e.Comm == comm && e.Library == Go && e.Direction == Received && e.Local == server && bytes.HasPrefix(e.Data, []byte("GET "+path+" "))
		})
		c.wait(t, comm+" server sending", 10*time.Second, func(e Event) bool {
			return e.Comm == comm && e.Library == Go && e.Direction == Sent && e.Local == server && bytes.HasPrefix(e.Data, []byte("HTTP/1.1 200 OK\r\n"))
		})
	}
	// The same events through the pipeline: HTTP records with tls set,
	// client → server, for both builds.
	sink := &recSink{}
	p := pipeline.New(pipeline.Config{Workers: 1}, []engine.Dissector{dissectortest.Builtin(t, "http1")}, sink)
	in := make(chan pipeline.Plaintext, len(c.seen))
	SortEvents(c.seen)
	for _, e := range c.seen {
		in <- ToPlaintext(e)
	}
	close(in)
	if _, err := p.RunPlaintext(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	for v := range bins {
		server := fmt.Sprintf("%s:%d", n.Peer, ports[v])
		answered := 0
		for _, r := range sink.recs {
			if r.Path != "/go-"+v || r.Dst.String() != server {
				continue
			}
			// The last request may have been collected without its
			// response; every answered one is a 200.
			if r.Response != nil {
				answered++
			}
			if !r.TLS || r.Method != "GET" || r.Response != nil && r.Status != 200 || r.Src.IP != n.Host {
				t.Errorf("%s record: %s %s %d tls %v %s > %s", v, r.Method, r.Path, r.Status, r.TLS, r.Src, r.Dst)
			}
		}
		if answered == 0 {
			t.Errorf("no answered record of GET /go-%s to %s among %d", v, server, len(sink.recs))
		}
	}
	st := tr.Stats()
	for v, bin := range bins {
		found := false
		for _, b := range st.Binaries {
			found = found || strings.HasSuffix(b, filepath.Base(bin))
		}
		if !found {
			t.Errorf("%s binary %s not among hooked binaries %v", v, bin, st.Binaries)
		}
	}
}

// The probe sites of a binary with symbols and of the same program
// stripped are the same: .gopclntab gives what the symbol table gave.
func TestInspectGoStripped(t *testing.T) {
	dir := t.TempDir()
	withSyms := buildGoApp(t, dir, "", "goapp-syms", false)
	a, err := inspectGo(withSyms)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(withSyms)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		t.Fatalf("the unstripped build has no DWARF: %v", err)
	}
	if o, ok := dwarfOffsets(d); !ok || o != defaultGoOffsets {
		t.Errorf("DWARF offsets %+v (found %v), want the defaults %+v", o, ok, defaultGoOffsets)
	}
	b, err := inspectGo(buildGoApp(t, dir, "", "goapp-strip", true))
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{goRead, goWrite} {
		if len(a.rets[fn]) == 0 || len(a.rets[fn]) != len(b.rets[fn]) {
			t.Errorf("%s: %d RETs with symbols, %d stripped", fn, len(a.rets[fn]), len(b.rets[fn]))
		}
	}
	// arm64: the same program cross-compiled, disassembled with arm64asm.
	for _, stripped := range []bool{false, true} {
		bin := buildGoApp(t, dir, "", fmt.Sprintf("tlsmini-arm64-%v", stripped), stripped, "GOARCH=arm64")
		g, err := inspectGo(bin)
		if err != nil {
			t.Fatalf("arm64 build (stripped %v): %v", stripped, err)
		}
		if g.arch != elf.EM_AARCH64 || len(g.rets[goRead]) == 0 || len(g.rets[goWrite]) == 0 || g.offsets != defaultGoOffsets {
			t.Errorf("arm64 build (stripped %v): arch %v, %d and %d RETs, offsets %+v", stripped, g.arch, len(g.rets[goRead]), len(g.rets[goWrite]), g.offsets)
		}
	}
	if _, err := inspectGo("/bin/sh"); err != ErrNotGo {
		t.Errorf("inspecting /bin/sh: %v, want ErrNotGo", err)
	}
}

// One Write of ~96 KiB (net/http writes a large body past its buffer)
// arrives in 16 KiB chunks up to the 64 KiB per-call cap; the rest is
// reported as Truncated on the last chunk and counted.
func TestGoLargeWrite(t *testing.T) {
	needRoot(t)
	n := newNet(t)
	dir := t.TempDir()
	cert, key := writeCert(t, dir, n.Peer)
	bin := buildGoApp(t, dir, "", "goapp-big", false)
	addr := n.Peer + ":9447"
	startProc(t, "ip", "netns", "exec", n.NS, bin, "server", addr, cert, key)
	waitListen(t, addr)
	tr, c := startTracer(t, Config{NoOpenSSL: true})
	startClient(t, bin, "client", "https://"+addr+"/big")
	server := netip.MustParseAddrPort(addr)
	var chunks, total int
	c.wait(t, "the server's truncated last chunk", 10*time.Second, func(e Event) bool {
		if e.Local != server || e.Direction != Sent || e.Comm != "goapp-big" {
			return false
		}
		if len(e.Data) == chunkSize {
			chunks++
			total += len(e.Data)
		}
		if e.Truncated > 0 {
			total += e.Truncated
			return true
		}
		return false
	})
	if chunks < maxChunks || total < 90000 || total > 100000 {
		t.Fatalf("%d full chunks, %d bytes with the truncated part; want %d chunks and about 96 KiB", chunks, total, maxChunks)
	}
	if st := tr.Stats(); st.Truncated == 0 {
		t.Fatalf("no truncated bytes counted: %+v", st)
	}
}

// A Go client whose request Write returns after the Read of its response
// has (net/http writes and reads on two goroutines, and here each write
// returns 30ms after its bytes left): the request's data is stamped when
// its Write began, so Plaintext puts it before the response and every
// call is one answered record. Stamped at return, as before, each response
// came first. The client runs three times, ten connections each, with as
// many threads as the machine gives it.
func TestGoClientWriteReturnsAfterRead(t *testing.T) {
	needRoot(t)
	n := newNet(t)
	dir := t.TempDir()
	cert, key := writeCert(t, dir, n.Peer)
	bin := buildGoApp(t, dir, "", "goapp-slow", false)
	addr := n.Peer + ":9447"
	startProc(t, "ip", "netns", "exec", n.NS, bin, "server", addr, cert, key)
	waitListen(t, addr)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr, err := Start(ctx, Config{NoOpenSSL: true})
	if err != nil {
		t.Fatal(err)
	}
	sink := &recSink{}
	p := pipeline.New(pipeline.Config{Workers: 2}, []engine.Dissector{dissectortest.Builtin(t, "http1")}, sink)
	// Which came first on each connection of the client, as delivered.
	var mu sync.Mutex
	first := map[netip.AddrPort]Direction{}
	events := make(chan Event, 1024)
	go func() {
		defer close(events)
		for e := range tr.Events() {
			events <- e
		}
	}()
	plain := make(chan pipeline.Plaintext, 256)
	go func() {
		defer close(plain)
		for pt := range Plaintext(ctx, events) {
			if pt.Remote.String() == addr && len(pt.Data) > 0 {
				mu.Lock()
				if _, ok := first[pt.Local]; !ok {
					first[pt.Local] = Received
					if pt.Sent {
						first[pt.Local] = Sent
					}
				}
				mu.Unlock()
			}
			plain <- pt
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.RunPlaintext(ctx, plain)
	}()
	const runs, calls = 3, 10
	for i := 0; i < runs; i++ {
		out, err := exec.Command(bin, "slowwrite", fmt.Sprintf("https://%s/slow%d", addr, i), fmt.Sprint(calls)).CombinedOutput()
		if err != nil || strings.Count(string(out), "200\n") != calls {
			t.Fatalf("run %d of the client: %v\n%s", i, err, out)
		}
	}
	time.Sleep(2 * ReorderWindow)
	tr.Close()
	<-done

	mu.Lock()
	defer mu.Unlock()
	if len(first) != runs*calls {
		t.Errorf("plaintext of %d client connections, want %d", len(first), runs*calls)
	}
	for local, d := range first {
		if d != Sent {
			t.Errorf("connection %s → %s: the response was delivered before the request", local, addr)
		}
	}
	answered := map[string]int{}
	for _, r := range sink.recs {
		if r.Dst.String() != addr || r.Src.IP != n.Host {
			continue
		}
		if r.Method != "GET" || r.Status != 200 || r.Response == nil || !r.TLS {
			t.Errorf("record %s %s status %d response %v tls %v, want an answered GET", r.Method, r.Path, r.Status, r.Response != nil, r.TLS)
			continue
		}
		answered[r.Path]++
	}
	for i := 0; i < runs; i++ {
		for j := 0; j < calls; j++ {
			if path := fmt.Sprintf("/slow%d/%d", i, j); answered[path] != 1 {
				t.Errorf("%s: %d answered records, want 1", path, answered[path])
			}
		}
	}
}
