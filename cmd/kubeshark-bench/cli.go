package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/kubeshark-wasm/kubeshark/dissectors"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// The command-line benchmark runs bin/kubeshark the way a user does, as a
// separate process, so that its wall time includes start-up (loading the
// dissectors, opening the store, the statistics pass) and its peak RSS is
// the process's own. It runs on captures of real servers and clients it
// records itself with tcpdump on loopback:
//
//   - small: nginx serving a 100-byte JSON file to h2load over 20
//     keep-alive HTTP/1.1 connections, the shape of ordinary API traffic;
//   - large: the `make bench` capture (bodies up to 64 KiB, gzip, chunked);
//   - tiny: two DNS queries and their answers (4 packets), for the cost of
//     starting at all.
//
// For each: `kubeshark import` into a new data directory with an empty
// compiled-dissector cache (cold) and with a warm one; dissection alone
// in-process with every built-in dissector loaded; and tshark on the same
// file in the same run.

type cliCapture struct {
	name, path, what string
}

// runMeasured runs cmd and returns its wall time, CPU time (user and
// system, which a busy machine inflates less than wall time) and peak RSS
// in bytes. The peak is the child's VmHWM, polled while it runs: the
// rusage maximum would not do, because Go starts children with vfork and
// Linux then charges the parent's resident set to the child's ru_maxrss.
func runMeasured(cmd *exec.Cmd) (measured, error) {
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return measured{}, err
	}
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var hwm, anon int64
	done := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := statusKB(status, "VmHWM:"); v > hwm {
				hwm = v
			}
			if v := statusKB(status, "RssAnon:"); v > anon {
				anon = v
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	el := time.Since(t0)
	close(done)
	<-polled
	if err != nil {
		return measured{}, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return measured{wall: el, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), rss: hwm, anon: anon}, nil
}

// statusKB reads a field in kB of a process's status file (VmHWM: peak
// resident set; RssAnon: resident anonymous memory now) in bytes, 0 when
// the process is gone.
func statusKB(status, field string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

type measured struct {
	wall, cpu time.Duration
	rss       int64
	// anon is the peak of the anonymous part of the resident set: the
	// Go heap, guest memories and compiled code, without the store's
	// memory-mapped files, whose pages the kernel reclaims under pressure.
	anon int64
}

// bestOf runs f n times and keeps the lowest wall time, CPU time and peak
// RSS, each from its own best run: on a shared machine all three are noise
// upwards.
func bestOf(n int, f func(i int) (measured, error)) (measured, error) {
	var m measured
	for i := range max(n, 1) {
		r, err := f(i)
		if err != nil {
			return m, err
		}
		if m.wall == 0 || r.wall < m.wall {
			m.wall = r.wall
		}
		if m.cpu == 0 || r.cpu < m.cpu {
			m.cpu = r.cpu
		}
		if m.rss == 0 || r.rss < m.rss {
			m.rss = r.rss
		}
		if m.anon == 0 || r.anon < m.anon {
			m.anon = r.anon
		}
	}
	return m, nil
}

// cliOptions are the cli part's flags.
type cliOptions struct {
	bin       string
	smallN    int
	repeat    int // the small capture repeated, for the 1M-record import
	largePath string
	runs      int
	profDir   string // where warm imports write profiles; "" for none
	soak      time.Duration
}

func cliBench(ctx context.Context, o cliOptions, out io.Writer) error {
	bin, smallN, largePath, runs := o.bin, o.smallN, o.largePath, o.runs
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (make bench builds it)", bin, err)
	}
	tmp, err := os.MkdirTemp("", "kubeshark-bench-cli")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var caps []cliCapture
	small := filepath.Join(tmp, "small.pcap")
	fmt.Fprintf(os.Stderr, "recording %d nginx/h2load exchanges with tcpdump...\n", smallN)
	if err := recordNginx(ctx, tmp, small, smallN); err != nil {
		return fmt.Errorf("small-message capture: %w", err)
	}
	caps = append(caps, cliCapture{"small", small, fmt.Sprintf("%d HTTP/1.1 exchanges, nginx → h2load, 100-byte JSON", smallN)})
	if o.repeat > 1 {
		many := filepath.Join(tmp, "many.pcap")
		if err := repeatCapture(small, many, o.repeat); err != nil {
			return fmt.Errorf("repeated capture: %w", err)
		}
		caps = append(caps, cliCapture{"many", many, fmt.Sprintf("the small capture %d times over (client ports and times shifted): %d exchanges", o.repeat, o.repeat*smallN)})
	}
	if largePath != "" {
		caps = append(caps, cliCapture{"large", largePath, "the `make bench` capture above"})
	}
	tiny := filepath.Join(tmp, "tiny.pcap")
	if err := recordDNS(ctx, tiny); err != nil {
		return fmt.Errorf("tiny DNS capture: %w", err)
	}
	caps = append(caps, cliCapture{"tiny", tiny, "2 DNS queries and answers (4 packets)"})
	for _, c := range caps {
		if n, err := countPackets(c.path); err != nil || n == 0 {
			return fmt.Errorf("%s capture %s: %d packets: %v", c.name, c.path, n, err)
		}
	}

	warm := filepath.Join(tmp, "cache-warm")
	n := 0
	importRun := func(c cliCapture, cache string) (measured, error) {
		n++
		data := filepath.Join(tmp, fmt.Sprintf("data-%d", n))
		defer os.RemoveAll(data)
		cmd := exec.CommandContext(ctx, bin, "--data", data, "--cache-dir", cache, "import", "--no-progress", c.path)
		if o.profDir != "" && cache == warm {
			cmd.Env = append(os.Environ(),
				"KUBESHARK_CPUPROFILE="+filepath.Join(o.profDir, fmt.Sprintf("%s-%d.cpu", c.name, n)),
				"KUBESHARK_MEMPROFILE="+filepath.Join(o.profDir, fmt.Sprintf("%s-%d.mem", c.name, n)))
		}
		return runMeasured(cmd)
	}
	// Warm the shared cache with every module, as a user's first imports
	// eventually do.
	if _, err := importRun(caps[0], warm); err != nil {
		return err
	}
	if _, err := importRun(caps[len(caps)-1], warm); err != nil {
		return err
	}
	_, haveTshark := exec.LookPath("tshark")

	fmt.Fprintf(out, "\nbin/kubeshark as a user runs it; each figure the lowest of %d runs (cold cache: 1 run); wall time, CPU time (user+system), peak RSS and, in brackets, the peak of its anonymous part (without memory-mapped files); tshark in the same run\n\n", runs)
	fmt.Fprintln(out, "| capture | packets | kubeshark import, cold cache | import, warm cache | dissect only (in-process, all dissectors) | tshark -r F -q -z http,tree | warm import vs tshark |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|")
	for _, c := range caps {
		// The repeated capture is about memory at scale: one warm run,
		// no cold one (the small capture's says what compiling costs).
		big := c.name == "many"
		cruns := runs
		if big {
			cruns = 1
		}
		cold := measured{}
		if !big {
			if cold, err = bestOf(1, func(i int) (measured, error) {
				return importRun(c, filepath.Join(tmp, fmt.Sprintf("cache-cold-%s-%d", c.name, i)))
			}); err != nil {
				return err
			}
		}
		w, err := bestOf(cruns, func(int) (measured, error) { return importRun(c, warm) })
		if err != nil {
			return err
		}
		var diss time.Duration
		var packets int64
		if big {
			// Dissection alone scales with the small capture's.
			n, err := countPackets(c.path)
			if err != nil {
				return err
			}
			packets = int64(n)
		} else if diss, packets, err = dissectOnly(ctx, c.path, warm, cruns); err != nil {
			return err
		}
		ts := measured{}
		if haveTshark == nil {
			if ts, err = bestOf(cruns, func(int) (measured, error) {
				return runMeasured(exec.CommandContext(ctx, "tshark", "-r", c.path, "-q", "-z", "http,tree"))
			}); err != nil {
				return err
			}
		}
		cell := func(m measured) string {
			return fmt.Sprintf("%.2f s (CPU %.2f s), %d MB (anon %d MB)", m.wall.Seconds(), m.cpu.Seconds(), m.rss>>20, m.anon>>20)
		}
		ratio := "no tshark"
		if ts.wall > 0 {
			ratio = fmt.Sprintf("%.2f× (CPU %.2f×)", ts.wall.Seconds()/w.wall.Seconds(), ts.cpu.Seconds()/w.cpu.Seconds())
		}
		tsCell := "not installed"
		if ts.wall > 0 {
			tsCell = cell(ts)
		}
		coldCell := "not run"
		if cold.wall > 0 {
			coldCell = cell(cold)
		}
		dissCell := "not run"
		if diss > 0 {
			dissCell = fmt.Sprintf("%.2f s", diss.Seconds())
		}
		fmt.Fprintf(out, "| %s: %s | %d | %s | %s | %s | %s | %s |\n", c.name, c.what, packets, coldCell, cell(w), dissCell, tsCell, ratio)
	}
	fmt.Fprintln(out, "\n(ratio > 1: kubeshark faster. Cold cache: a new user cache directory, every dissector the traffic needs compiled; warm: a new data directory, compiled code from the user cache.)")
	if o.soak > 0 {
		return tapSoak(ctx, bin, warm, o.soak, nil, out)
	}
	return nil
}

// dissectOnly runs the pipeline over every built-in dissector, loaded as
// the CLI loads them, records counted and dropped, with the compiled code
// from cache.
func dissectOnly(ctx context.Context, path, cache string, runs int) (time.Duration, int64, error) {
	rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: filepath.Join(cache, "wazero")})
	if err != nil {
		return 0, 0, err
	}
	defer rt.Close(ctx)
	mods, err := dissectors.Builtin()
	if err != nil {
		return 0, 0, err
	}
	var ds []engine.Dissector
	for _, m := range mods {
		// As the CLI loads them: known manifests, probes as prefilters.
		d, err := rt.LoadDescribedFunc(ctx, "built-in", m.Wasm, m.Manifest, m.Probe)
		if err != nil {
			return 0, 0, err
		}
		ds = append(ds, d)
	}
	var best time.Duration
	var packets int64
	for range max(runs, 1) {
		src, err := capture.OpenFile(path)
		if err != nil {
			return 0, 0, err
		}
		p := pipeline.New(pipeline.Config{NewID: storage.NewID}, ds, &countSink{})
		t0 := time.Now()
		st, err := p.Run(ctx, src)
		el := time.Since(t0)
		src.Close()
		if err != nil {
			return 0, 0, err
		}
		packets = st.Packets
		if best == 0 || el < best {
			best = el
		}
	}
	return best, packets, nil
}

// tcpdump records loopback traffic matching filter into path until stop
// is called.
func tcpdump(ctx context.Context, path, filter string) (stop func() error, err error) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		return nil, fmt.Errorf("tcpdump is not installed (make deps installs it)")
	}
	cmd := exec.CommandContext(ctx, "tcpdump", "-i", "lo", "--immediate-mode", "-U", "-B", "262144", "-s", "0", "-w", path, filter)
	errp, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(errp)
	ready := false
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), "listening on") {
			ready = true
			break
		}
	}
	if !ready {
		cmd.Wait()
		return nil, fmt.Errorf("tcpdump did not start (needs root): %s", strings.Join(lines, "; "))
	}
	go io.Copy(io.Discard, errp)
	// "listening on" comes just before the capture is live.
	time.Sleep(500 * time.Millisecond)
	return func() error {
		time.Sleep(200 * time.Millisecond) // let -U flush the last packets
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = nil // tcpdump exits non-zero on SIGINT on some versions
		}
		return err
	}, nil
}

// freePort returns a loopback TCP port nothing listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startNginx serves a 100-byte JSON file, /item.json, with nginx on a free
// loopback port.
func startNginx(ctx context.Context, tmp string) (port int, stop func(), err error) {
	for _, tool := range []string{"nginx", "h2load"} {
		if _, err := exec.LookPath(tool); err != nil {
			return 0, nil, fmt.Errorf("%s is not installed (make deps installs nginx and nghttp2-client)", tool)
		}
	}
	root := filepath.Join(tmp, "nginx")
	if err := os.MkdirAll(filepath.Join(root, "www"), 0o755); err != nil {
		return 0, nil, err
	}
	// nginx's workers run as nobody: they must be able to read the file.
	for _, d := range []string{tmp, root, filepath.Join(root, "www")} {
		os.Chmod(d, 0o755)
	}
	body := `{"id":12345,"name":"widget","price":9.99,"tags":["a","b"],"ok":true,"note":"xxxxxxxxxxxxxxxxxxxx"}`
	if err := os.WriteFile(filepath.Join(root, "www", "item.json"), []byte(body), 0o644); err != nil {
		return 0, nil, err
	}
	port, err = freePort()
	if err != nil {
		return 0, nil, err
	}
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  keepalive_requests 1000000;
  types { application/json json; }
  server { listen 127.0.0.1:%[2]d; root %[1]s/www; }
}
`, root, port)
	if err := os.WriteFile(filepath.Join(root, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return 0, nil, err
	}
	ngx := exec.CommandContext(ctx, "nginx", "-c", filepath.Join(root, "nginx.conf"), "-p", root)
	if err := ngx.Start(); err != nil {
		return 0, nil, fmt.Errorf("nginx: %w", err)
	}
	stopNginx := func() {
		ngx.Process.Signal(syscall.SIGQUIT)
		ngx.Wait()
	}
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if i == 50 {
			stopNginx()
			return 0, nil, fmt.Errorf("nginx did not start listening on %d", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return port, stopNginx, nil
}

// recordNginx serves a 100-byte JSON file with nginx and records h2load
// fetching it n times over 20 keep-alive connections.
func recordNginx(ctx context.Context, tmp, path string, n int) error {
	port, stopNginx, err := startNginx(ctx, tmp)
	if err != nil {
		return err
	}
	defer stopNginx()
	url := fmt.Sprintf("http://127.0.0.1:%d/item.json", port)
	stop, err := tcpdump(ctx, path, fmt.Sprintf("tcp port %d", port))
	if err != nil {
		return err
	}
	msg, err := exec.CommandContext(ctx, "h2load", "--h1", "-n", fmt.Sprint(n), "-c", "20", "-m", "1", url).CombinedOutput()
	serr := stop()
	if err != nil {
		return fmt.Errorf("h2load: %w: %s", err, msg)
	}
	if !strings.Contains(string(msg), fmt.Sprintf("%d succeeded", n)) {
		return fmt.Errorf("h2load did not complete every request: %s", msg)
	}
	return serr
}

// recordDNS records two real DNS lookups (A and AAAA, Go's resolver) of a
// name a small server on loopback answers.
func recordDNS(ctx context.Context, path string) error {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer pc.Close()
	addr := pc.LocalAddr().String()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) != nil {
				continue
			}
			m.Header.Response, m.Header.Authoritative = true, true
			for _, q := range m.Questions {
				h := dnsmessage.ResourceHeader{Name: q.Name, Type: q.Type, Class: q.Class, TTL: 60}
				switch q.Type {
				case dnsmessage.TypeA:
					m.Answers = append(m.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.AResource{A: [4]byte{10, 0, 0, 7}}})
				case dnsmessage.TypeAAAA:
					m.Answers = append(m.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.AAAAResource{AAAA: [16]byte{0xfd, 15: 7}}})
				}
			}
			if b, err := m.Pack(); err == nil {
				pc.WriteTo(b, from)
			}
		}
	}()
	stop, err := tcpdump(ctx, path, "udp port "+addr[strings.LastIndex(addr, ":")+1:])
	if err != nil {
		return err
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, lerr := r.LookupHost(lctx, "api.example.com.")
	cancel()
	serr := stop()
	if lerr != nil {
		return fmt.Errorf("lookup: %w", lerr)
	}
	return serr
}

func countPackets(path string) (int, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	n := 0
	for {
		if _, err := src.Next(context.Background()); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		n++
	}
}
