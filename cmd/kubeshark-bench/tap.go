package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The tap benchmark runs `kubeshark tap` as a user does (a separate root
// process, every local socket through the cgroup hooks) while h2load loads
// nginx across a veth pair at rising fixed rates, and tcpdump records the
// same traffic on the veth in the same run. For each rate it reports the
// requests h2load completed, the records tap stored and how many are
// missing, the kernel's ring-buffer drops, tap's CPU and peak RSS, and
// tcpdump's packets, drops, CPU and RSS; `kubeshark import` of tcpdump's
// file says how many records the packets tcpdump kept make.

// defaultTapRates are the offered request rates; 0 is unbounded (as fast
// as h2load goes).
const defaultTapRates = "1000,5000,20000,0"

// parseRates reads -tap-rates.
func parseRates(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-tap-rates: %q is not a rate (requests/s, 0 for unbounded)", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// tapBody is one response body the tap part serves.
type tapBody struct {
	name string // as -tap-bodies spells it
	file string // nginx serves it at /file
	desc string
	big  bool // bodies too large to keep whole in tcpdump's file
	tls  bool // HTTPS on port 443, tap with its TLS uprobes
}

// scheme, port and tap's arguments for the body's traffic.
func (b tapBody) url(ip string) string {
	if b.tls {
		return fmt.Sprintf("https://%s/%s", ip, b.file)
	}
	return fmt.Sprintf("http://%s/%s", ip, b.file)
}

func (b tapBody) filter() string {
	if b.tls {
		return "tcp port 443"
	}
	return "tcp port 80"
}

func (b tapBody) tapArgs() []string {
	if b.tls {
		return []string{"--filter", b.filter()}
	}
	return []string{"--tls=false", "--filter", b.filter()}
}

var tapBodies = map[string]tapBody{
	"small": {name: "small", file: "item.json", desc: "100-byte JSON"},
	"64k":   {name: "64k", file: "big.bin", desc: "64 KiB body", big: true},
	// Not in the default: it is there for the TLS uprobes' cost per run.
	"tls": {name: "tls", file: "item.json", desc: "100-byte JSON over HTTPS (OpenSSL on both sides)", tls: true},
}

// defaultTapBodies are the bodies of the tap part, in order.
const defaultTapBodies = "small,64k"

// parseBodies reads -tap-bodies.
func parseBodies(s string) ([]tapBody, error) {
	var out []tapBody
	for _, f := range strings.Split(s, ",") {
		b, ok := tapBodies[strings.TrimSpace(f)]
		if !ok {
			return nil, fmt.Errorf("-tap-bodies: %q is not a body (want small, 64k or tls)", f)
		}
		out = append(out, b)
	}
	return out, nil
}

const (
	tapClients  = 20
	tapSeconds  = 8
	tapUnlimitN = 100000
	// With 64 KiB bodies a request moves 650 times the bytes, and this
	// machine serves a few thousand of them a second at most: the runs are
	// capped at this many requests so that each lasts seconds, not minutes.
	tapBigMaxN = 24000
	// tcpdump keeps only this much of each packet in the 64 KiB runs (a
	// file of whole packets would be gigabytes); its drop count still says
	// whether it kept up, but its file is not imported.
	tapBigSnap = 256
)

type tapRow struct {
	rate                 int
	run                  int // 1, 2, ... of -tap-repeats
	offered, achieved    float64
	succeeded            int
	records, kernelDrops int64
	tap, dump            measured
	tapWall              time.Duration
	dumpPackets, dumpDrp int64
	importRecords        int64
	without, with        latency
	bpf                  map[string]hookCost
	bpfErr               error
}

// tapConfig is what the tap part runs.
type tapConfig struct {
	bin    string
	before string // a second binary run in turn with bin, or ""
	rates  []int
	bodies []tapBody
	extra  []string
	// repeats is how many times each rate runs (each run: the client
	// alone, then under tap), interleaved with before's runs.
	repeats int
}

func tapBench(ctx context.Context, cfg tapConfig, out io.Writer) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the tap benchmark needs root (tap loads BPF programs; it makes a network namespace)")
	}
	for _, tool := range []string{"ip", "nginx", "h2load", "tcpdump", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (make deps installs it)", tool)
		}
	}
	bins := []string{cfg.bin}
	if cfg.before != "" {
		bins = []string{cfg.before, cfg.bin}
	}
	for _, b := range bins {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s: %w (make bench builds it)", b, err)
		}
	}
	tmp, err := os.MkdirTemp("", "kubeshark-bench-tap")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ns, hostIf, nsIP, cleanup, err := benchNetns()
	if err != nil {
		return err
	}
	defer cleanup()
	stopNginx, err := nginxIn(ctx, ns, nsIP, tmp)
	if err != nil {
		return err
	}
	defer stopNginx()
	stats, err := enableBPFStats()
	if err != nil {
		fmt.Fprintf(os.Stderr, "no BPF program costs: %v\n", err)
	} else {
		defer stats.Close()
	}
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(out, "\n(load average at the start: %s)\n", strings.Join(strings.Fields(string(l))[:3], " "))
	}

	// A first short run of each body compiles the dissectors its traffic
	// needs into the cache, as a user's first tap or import does; the
	// measured runs start warm. (Dissectors are compiled when first
	// needed: warmed with plain HTTP only, the HTTPS runs compiled the
	// TLS dissector inside the measured run, a fifth of tap's CPU there.)
	// Each binary has its own cache: their dissectors may differ.
	cache := map[string]string{}
	for i, b := range bins {
		cache[b] = filepath.Join(tmp, fmt.Sprintf("cache%d", i))
		fmt.Fprintf(os.Stderr, "tap warm-up of %s (compiling the dissectors into the cache)...\n", b)
		warm := []tapBody{tapBodies["small"]}
		for _, body := range cfg.bodies {
			if body.tls {
				warm = append(warm, body)
			}
		}
		for _, body := range warm {
			if _, err := tapOnce(ctx, b, cache[b], tmp, hostIf, body.url(nsIP), body, 500, 1, cfg.extra...); err != nil {
				return fmt.Errorf("warm-up of %s: %w", b, err)
			}
		}
	}
	for _, body := range cfg.bodies {
		url := body.url(nsIP)
		rows := map[string][]tapRow{}
		for _, rate := range cfg.rates {
			for i := 0; i < cfg.repeats; i++ {
				for _, b := range bins {
					fmt.Fprintf(os.Stderr, "tap (%s), %s, at %s, run %d of %d...\n", b, body.desc, rateName(rate), i+1, cfg.repeats)
					r, err := tapOnce(ctx, b, cache[b], tmp, hostIf, url, body, rate, tapSeconds, cfg.extra...)
					if err != nil {
						return fmt.Errorf("%s, %s, rate %s: %w", b, body.desc, rateName(rate), err)
					}
					r.run = i + 1
					rows[b] = append(rows[b], r)
				}
			}
		}
		for _, b := range bins {
			label := ""
			if len(bins) > 1 {
				label = fmt.Sprintf("%s (runs interleaved with %s's)", b, bins[1-slices.Index(bins, b)])
			}
			tapTables(out, body, rows[b], cfg.extra, label, cfg.repeats)
		}
	}
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(out, "\n(load average at the end: %s)\n", strings.Join(strings.Fields(string(l))[:3], " "))
	}
	return nil
}

// tapTables prints one body's figures: capture, client latency, BPF cost.
func tapTables(out io.Writer, body tapBody, rows []tapRow, extra []string, label string, repeats int) {
	n := "-n RATE×8"
	if body.big {
		n = fmt.Sprintf("-n min(RATE×8, %d)", tapBigMaxN)
	}
	if label != "" {
		label = " — " + label
	}
	fmt.Fprintf(out, "\n### %s%s\n\nkubeshark tap (cgroup hooks, every local socket, %s%s) while h2load (%d keep-alive HTTP/1.1 clients, %s, %s) loads nginx across a veth pair at each fixed rate; tcpdump -i VETH in the same run\n\n", body.desc, label, strings.Join(body.tapArgs(), " "), extraNote(extra), tapClients, body.desc, n)
	fmt.Fprintln(out, "| offered req/s | achieved req/s | requests done | tap records | missing | kernel drops (ring full) | tap CPU (s, % of one core) | tap peak RSS | tcpdump packets / dropped | tcpdump CPU, RSS | records from importing tcpdump's file |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|---|")
	lossAt := -1
	for i, r := range rows {
		missing := int64(r.succeeded) - r.records
		if (missing > 0 || r.kernelDrops > 0) && lossAt < 0 {
			lossAt = i
		}
		imp := strconv.FormatInt(r.importRecords, 10)
		if body.big {
			imp = fmt.Sprintf("— (snaplen %d)", tapBigSnap)
		} else if body.tls {
			imp = "— (encrypted)"
		}
		fmt.Fprintf(out, "| %s | %.0f | %d | %d | %d (%.2f%%) | %d | %.2f s, %.0f%% | %d MB | %d / %d | %.2f s, %d MB | %s |\n",
			runName(r, repeats), r.achieved, r.succeeded, r.records, missing, 100*float64(missing)/float64(max(r.succeeded, 1)),
			r.kernelDrops, r.tap.cpu.Seconds(), 100*r.tap.cpu.Seconds()/r.tapWall.Seconds(), r.tap.rss>>20,
			r.dumpPackets, r.dumpDrp, r.dump.cpu.Seconds(), r.dump.rss>>20, imp)
	}
	fmt.Fprintln(out, "\n(tap's CPU and wall time run from its start (dissectors loaded from a warm cache) to the end of its drain after SIGINT, including the second after the load; missing = requests h2load completed minus records tap stored.)")
	if lossAt >= 0 {
		where := "at"
		if lossAt == 0 {
			where = "at or below (the lowest rate measured)"
		}
		fmt.Fprintf(out, "\nLoss begins %s %s req/s offered (%.0f achieved).\n", where, rateName(rows[lossAt].rate), rows[lossAt].achieved)
	} else {
		hi := 0.0
		for _, r := range rows {
			hi = max(hi, r.achieved)
		}
		fmt.Fprintf(out, "\nNo loss at any rate: none up to %.0f req/s, the highest achieved.\n", hi)
	}

	if repeats > 1 {
		latencyMedians(out, rows)
	} else {
		fmt.Fprintln(out, "\nThe client without and with tap (the same h2load run just before tap starts, then under tap; p50/p99 exact over every request of h2load's --log-file; aim: p99 with tap within 10% of without):")
		fmt.Fprintln(out, "\n| offered req/s | without tap: req/s, p50, p99 | with tap: req/s, p50, p99 | throughput change | p99 change | p99 within 10% |")
		fmt.Fprintln(out, "|---|---|---|---|---|---|")
		for _, r := range rows {
			dp := 100 * (float64(r.with.p99) - float64(r.without.p99)) / float64(max(r.without.p99, 1))
			dt := 100 * (r.with.reqPerSec - r.without.reqPerSec) / max(r.without.reqPerSec, 1)
			ok := "yes"
			if dp > 10 {
				ok = "no"
			}
			fmt.Fprintf(out, "| %s | %.0f, %s, %s | %.0f, %s, %s | %+.1f%% | %+.1f%% | %s |\n", rateName(r.rate),
				r.without.reqPerSec, us(r.without.p50), us(r.without.p99), r.with.reqPerSec, us(r.with.p50), us(r.with.p99), dt, dp, ok)
		}
	}

	fmt.Fprintln(out, "\nCost per BPF program run under the load (bpf_stats: run_time_ns / run_cnt of tap's own programs, found through its file descriptors, from just before h2load starts to just after it ends):")
	fmt.Fprintf(out, "\n| offered req/s | %s |\n|---|%s\n", strings.Join(hookGroups, " | "), strings.Repeat("---|", len(hookGroups)))
	for _, r := range rows {
		if r.bpfErr != nil || r.bpf == nil {
			fmt.Fprintf(out, "| %s | not measured: %v |\n", runName(r, repeats), r.bpfErr)
			continue
		}
		cells := make([]string, len(hookGroups))
		for i, g := range hookGroups {
			if c, ok := r.bpf[g]; ok {
				cells[i] = c.String()
			} else {
				cells[i] = "not loaded"
			}
		}
		fmt.Fprintf(out, "| %s | %s |\n", runName(r, repeats), strings.Join(cells, " | "))
	}
}

// runName labels a row: its rate, and its run when a rate ran more than once.
func runName(r tapRow, repeats int) string {
	if repeats > 1 {
		return fmt.Sprintf("%s #%d", rateName(r.rate), r.run)
	}
	return rateName(r.rate)
}

// latencyMedians prints, for each rate run several times, the median of
// the client's p99 alone and under tap over the runs, with their range:
// one run's p99 on a busy machine swings by several times on its own.
func latencyMedians(out io.Writer, rows []tapRow) {
	fmt.Fprintln(out, "\nThe client without and with tap, runs interleaved (alone, under tap, alone, under tap, ...; p50/p99 exact over every request of each run's h2load --log-file): the median over the runs and, in brackets, the lowest and highest; aim: the median p99 with tap within 10% of without:")
	fmt.Fprintln(out, "\n| offered req/s | runs | without tap: req/s, p50, p99 [range] | with tap: req/s, p50, p99 [range] | throughput change | p50 change | p99 change (medians) | p99 change, run by run: median [range] | within 10% |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|")
	for _, g := range byRate(rows) {
		var wo, wi latencies
		var pair []float64
		for _, r := range g {
			wo.add(r.without)
			wi.add(r.with)
			pair = append(pair, 100*(float64(r.with.p99)-float64(r.without.p99))/float64(max(r.without.p99, 1)))
		}
		dp := 100 * (float64(wi.p99()) - float64(wo.p99())) / float64(max(wo.p99(), 1))
		d50 := 100 * (float64(wi.p50()) - float64(wo.p50())) / float64(max(wo.p50(), 1))
		dt := 100 * (wi.rate() - wo.rate()) / max(wo.rate(), 1)
		ok := "yes"
		if dp > 10 {
			ok = "no"
		}
		fmt.Fprintf(out, "| %s | %d | %.0f, %s, %s [%s–%s] | %.0f, %s, %s [%s–%s] | %+.1f%% | %+.1f%% | %+.1f%% | %+.0f%% [%+.0f%%, %+.0f%%] | %s |\n",
			rateName(g[0].rate), len(g), wo.rate(), us(wo.p50()), us(wo.p99()), us(slices.Min(wo.p99s)), us(slices.Max(wo.p99s)),
			wi.rate(), us(wi.p50()), us(wi.p99()), us(slices.Min(wi.p99s)), us(slices.Max(wi.p99s)),
			dt, d50, dp, medianF(pair), slices.Min(pair), slices.Max(pair), ok)
	}
}

// byRate groups rows by rate, in the order the rates first appear.
func byRate(rows []tapRow) [][]tapRow {
	var out [][]tapRow
	at := map[int]int{}
	for _, r := range rows {
		i, ok := at[r.rate]
		if !ok {
			i = len(out)
			at[r.rate] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

// latencies gathers several runs' figures for their medians.
type latencies struct {
	rates      []float64
	p50s, p99s []time.Duration
}

func (l *latencies) add(x latency) {
	l.rates = append(l.rates, x.reqPerSec)
	l.p50s = append(l.p50s, x.p50)
	l.p99s = append(l.p99s, x.p99)
}

func (l *latencies) rate() float64      { return medianF(l.rates) }
func (l *latencies) p50() time.Duration { return medianD(l.p50s) }
func (l *latencies) p99() time.Duration { return medianD(l.p99s) }

// medianF and medianD are the middle value (the mean of the two middle
// ones for an even count).
func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianD(v []time.Duration) time.Duration {
	f := make([]float64, len(v))
	for i, d := range v {
		f[i] = float64(d)
	}
	return time.Duration(medianF(f))
}

func us(d time.Duration) string {
	if d >= 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%d µs", d.Microseconds())
}

func extraNote(extra []string) string {
	if len(extra) == 0 {
		return ""
	}
	return ", " + strings.Join(extra, " ")
}

func rateName(r int) string {
	if r == 0 {
		return "unbounded"
	}
	return strconv.Itoa(r)
}

// benchNetns makes a namespace behind a veth pair.
func benchNetns() (ns, hostIf, nsIP string, cleanup func(), err error) {
	id := rand.IntN(1 << 20)
	ns, hostIf = fmt.Sprintf("ksb%05x", id), fmt.Sprintf("ksb%05xh", id)
	nsIf := fmt.Sprintf("ksb%05xn", id)
	sub := 1 + id%250
	hostIP := fmt.Sprintf("10.234.%d.1", sub)
	nsIP = fmt.Sprintf("10.234.%d.2", sub)
	cleanup = func() {
		exec.Command("ip", "link", "del", hostIf).Run()
		exec.Command("ip", "netns", "del", ns).Run()
	}
	for _, args := range [][]string{
		{"netns", "add", ns},
		{"link", "add", hostIf, "type", "veth", "peer", "name", nsIf},
		{"link", "set", nsIf, "netns", ns},
		{"addr", "add", hostIP + "/30", "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"netns", "exec", ns, "ip", "addr", "add", nsIP + "/30", "dev", nsIf},
		{"netns", "exec", ns, "ip", "link", "set", nsIf, "up"},
		{"netns", "exec", ns, "ip", "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			cleanup()
			return "", "", "", nil, fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return ns, hostIf, nsIP, cleanup, nil
}

// nginxIn serves the 100-byte JSON file of the cli benchmark (item.json)
// and a 64 KiB file (big.bin) on nsIP:80 inside the namespace, one worker.
func nginxIn(ctx context.Context, ns, nsIP, tmp string) (stop func(), err error) {
	root := filepath.Join(tmp, "nginx")
	if err := os.MkdirAll(filepath.Join(root, "www"), 0o755); err != nil {
		return nil, err
	}
	body := `{"id":12345,"name":"widget","price":9.99,"tags":["a","b"],"ok":true,"note":"xxxxxxxxxxxxxxxxxxxx"}`
	if err := os.WriteFile(filepath.Join(root, "www", "item.json"), []byte(body), 0o644); err != nil {
		return nil, err
	}
	// Printable, so that a dissector sees an ordinary text body.
	if err := os.WriteFile(filepath.Join(root, "www", "big.bin"), bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16), 0o644); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s; uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  keepalive_requests 1000000;
  types { application/json json; }
  server { listen %[2]s:80; root %[1]s/www; }
  server { listen %[2]s:443 ssl; root %[1]s/www; ssl_certificate %[1]s/cert.pem; ssl_certificate_key %[1]s/key.pem; }
}
`, root, nsIP)
	if msg, err := exec.CommandContext(ctx, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=kubeshark-bench",
		"-keyout", filepath.Join(root, "key.pem"), "-out", filepath.Join(root, "cert.pem")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("openssl req (nginx's certificate): %w: %s", err, msg)
	}
	if err := os.WriteFile(filepath.Join(root, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	ngx := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nginx", "-c", filepath.Join(root, "nginx.conf"), "-p", root)
	ngx.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := ngx.Start(); err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	stop = func() {
		syscall.Kill(-ngx.Process.Pid, syscall.SIGKILL)
		ngx.Wait()
	}
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", nsIP+":80", time.Second)
		if err == nil {
			c.Close()
			return stop, nil
		}
		if i == 50 {
			stop()
			return nil, fmt.Errorf("nginx did not start listening on %s:80", nsIP)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// background is a process measured while it runs until signalled.
type background struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	hwm    int64
	done   chan struct{}
	polled chan struct{}
	t0     time.Time
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startBackground(cmd *exec.Cmd) (*background, error) {
	b := &background{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{}), polled: make(chan struct{})}
	cmd.Stderr, cmd.Stdout = b.stderr, io.Discard
	b.t0 = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	go func() {
		defer close(b.polled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := statusKB(status, "VmHWM:"); v > b.hwm {
				b.hwm = v
			}
			select {
			case <-b.done:
				return
			case <-tick.C:
			}
		}
	}()
	return b, nil
}

// waitFor polls the process's stderr for a line matching re.
func (b *background) waitFor(re *regexp.Regexp, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if re.MatchString(b.stderr.String()) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: no %q within %v: %s", b.cmd.Args[0], re, timeout, b.stderr.String())
}

// stop signals the process and returns what it used.
func (b *background) stop() (measured, time.Duration, error) {
	b.cmd.Process.Signal(syscall.SIGINT)
	err := b.cmd.Wait()
	wall := time.Since(b.t0)
	close(b.done)
	<-b.polled
	m := measured{wall: wall, cpu: b.cmd.ProcessState.UserTime() + b.cmd.ProcessState.SystemTime(), rss: b.hwm}
	if err != nil && b.cmd.ProcessState.ExitCode() != 0 && !strings.Contains(b.cmd.Args[0], "tcpdump") {
		return m, wall, fmt.Errorf("%s: %w: %s", strings.Join(b.cmd.Args, " "), err, b.stderr.String())
	}
	return m, wall, nil
}

var (
	reCapturing  = regexp.MustCompile(`(?m)^capturing on `)
	reListening  = regexp.MustCompile(`listening on `)
	reRecords    = regexp.MustCompile(`(?m)^  records:  (\d+)`)
	reKernelLoss = regexp.MustCompile(`(?m)^  loss:     (\d+) packets lost in the kernel`)
	reDumpCapt   = regexp.MustCompile(`(\d+) packets captured`)
	reDumpDrop   = regexp.MustCompile(`(\d+) packets dropped by kernel`)
	// The TLS source's summary: its records are the plaintext's, beside
	// the packet source's (which over HTTPS hold only handshakes).
	reTLSRecords = regexp.MustCompile(`(?m)^  captured: \d+ calls, .*; \d+ connections, (\d+) records`)
	reTLSLoss    = regexp.MustCompile(`(?m)^  loss:     (\d+) plaintext events lost in the kernel`)
	reH2Done     = regexp.MustCompile(`requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded`)
	reH2Rate     = regexp.MustCompile(`finished in [0-9.]+m?s, ([0-9.]+) req/s`)
)

// tapRecords reads the records tap stored and the events the kernel
// dropped from its summary. With tls, the calls are the TLS plaintext's
// records (the packet source's line counts only what the encrypted
// packets made: a handshake record per connection), and drops are the
// packet ring's and the TLS ring's together; -1 where a line is missing.
func tapRecords(summary string, tls bool) (records, drops int64) {
	if !tls {
		return atoi64(reRecords, summary), atoi64(reKernelLoss, summary)
	}
	records = atoi64(reTLSRecords, summary)
	pkt, plain := atoi64(reKernelLoss, summary), atoi64(reTLSLoss, summary)
	if pkt < 0 || plain < 0 {
		return records, -1
	}
	return records, pkt + plain
}

func atoi64(re *regexp.Regexp, s string) int64 {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

func tapOnce(ctx context.Context, bin, cache, tmp, hostIf, url string, body tapBody, rate, seconds int, extra ...string) (tapRow, error) {
	row := tapRow{rate: rate}
	args := []string{"--h1", "-c", strconv.Itoa(tapClients), "-m", "1"}
	n := tapUnlimitN
	if rate > 0 {
		n = rate * seconds
		args = append(args, "--rps", strconv.Itoa(max(rate/tapClients, 1)))
		row.offered = float64(rate)
	}
	if body.big {
		n = min(n, tapBigMaxN)
	}
	args = append(args, "-n", strconv.Itoa(n))
	logPath := filepath.Join(tmp, "h2load-"+rateName(rate)+".log")

	// The client alone first, at the same rate, for its own latency.
	if seconds > 1 {
		var err error
		if _, row.without, err = h2loadRun(ctx, args, url, logPath); err != nil {
			return row, fmt.Errorf("without tap: %w", err)
		}
	}

	data := filepath.Join(tmp, "data-"+rateName(rate))
	defer os.RemoveAll(data)
	tap, err := startBackground(exec.CommandContext(ctx, bin, append([]string{"--data", data, "--cache-dir", cache, "tap",
		"--no-hub", "--no-status"}, append(body.tapArgs(), extra...)...)...))
	if err != nil {
		return row, err
	}
	if err := tap.waitFor(reCapturing, 3*time.Minute); err != nil {
		tap.stop()
		return row, err
	}
	pcap := filepath.Join(tmp, "dump-"+rateName(rate)+".pcap")
	defer os.Remove(pcap)
	snap := "0"
	if body.big {
		snap = strconv.Itoa(tapBigSnap)
	}
	dump, err := startBackground(exec.CommandContext(ctx, "tcpdump", "-i", hostIf, "-B", "65536", "-s", snap, "-w", pcap, body.filter()))
	if err != nil {
		tap.stop()
		return row, err
	}
	if err := dump.waitFor(reListening, 10*time.Second); err != nil {
		tap.stop()
		dump.stop()
		return row, err
	}
	before, berr := bpfProgsOf(tap.cmd.Process.Pid)
	msg, with, herr := h2loadRun(ctx, args, url, logPath)
	after, aerr := bpfProgsOf(tap.cmd.Process.Pid)
	if row.bpfErr = errors.Join(berr, aerr); row.bpfErr == nil {
		row.bpf = bpfCost(before, after)
	}
	row.with = with
	time.Sleep(time.Second) // the last packets reach the hooks and tcpdump
	row.dump, _, _ = dump.stop()
	var terr error
	row.tap, row.tapWall, terr = tap.stop()
	if herr != nil {
		return row, herr
	}
	if terr != nil {
		return row, terr
	}
	row.succeeded = int(atoi64(reH2Done, msg))
	row.achieved = with.reqPerSec
	tapErr := tap.stderr.String()
	row.records, row.kernelDrops = tapRecords(tapErr, body.tls)
	row.dumpPackets = atoi64(reDumpCapt, dump.stderr.String())
	row.dumpDrp = atoi64(reDumpDrop, dump.stderr.String())
	if row.records < 0 || row.succeeded < 0 {
		return row, fmt.Errorf("could not read the figures: tap said %q; h2load said %q", tapErr, msg)
	}
	if !body.big && !body.tls {
		// What the packets tcpdump kept make, imported.
		imp := exec.CommandContext(ctx, bin, "--data", filepath.Join(tmp, "import-"+rateName(rate)), "--cache-dir", cache, "import", "--no-progress", pcap)
		var ierr strings.Builder
		imp.Stderr, imp.Stdout = &ierr, &ierr // the summary goes to stdout
		if err := imp.Run(); err != nil {
			return row, fmt.Errorf("importing tcpdump's capture: %w: %s", err, ierr.String())
		}
		os.RemoveAll(filepath.Join(tmp, "import-"+rateName(rate)))
		row.importRecords = atoi64(reRecords, ierr.String())
	}
	fmt.Fprintf(os.Stderr, "  h2load: %d done at %.0f req/s, p99 %v (without tap: %.0f req/s, p99 %v); tap: %d records, %d kernel drops, CPU %.2fs in %.1fs, RSS %d MB; tcpdump: %d packets, %d dropped; import of its file: %d records; bpf: %v %v\n",
		row.succeeded, row.achieved, row.with.p99, row.without.reqPerSec, row.without.p99, row.records, row.kernelDrops, row.tap.cpu.Seconds(), row.tapWall.Seconds(), row.tap.rss>>20, row.dumpPackets, row.dumpDrp, row.importRecords, row.bpf, row.bpfErr)
	return row, nil
}
