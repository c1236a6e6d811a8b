package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// tapSoak runs `kubeshark tap` as a user does, with every built-in loaded,
// on nginx serving ordinary API traffic for d: h2load runs of 10 seconds
// one after another (so connections come and go), 10 clients at 50
// requests/s each. It reports tap's resident set over the run, to show a
// steady state or its growth: the peak, and the samples at each tenth of
// the run. It needs root (tap's eBPF hooks).
func tapSoak(ctx context.Context, bin, cache string, d time.Duration, out io.Writer) error {
	if os.Geteuid() != 0 {
		fmt.Fprintln(out, "\ntap soak: skipped, needs root")
		return nil
	}
	tmp, err := os.MkdirTemp("", "kubeshark-bench-tap")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	port, stopNginx, err := startNginx(ctx, tmp)
	if err != nil {
		return err
	}
	defer stopNginx()
	data := filepath.Join(tmp, "data")
	tap := exec.CommandContext(ctx, bin, "--data", data, "--cache-dir", cache, "tap",
		"--filter", fmt.Sprintf("tcp port %d", port), "--duration", (d + 5*time.Second).String(),
		"--no-hub", "--no-status", "--tls=false")
	tap.Cancel = func() error { return tap.Process.Signal(syscall.SIGINT) }
	stdout, err := tap.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	tap.Stderr = &stderr
	t0 := time.Now()
	if err := tap.Start(); err != nil {
		return err
	}
	summary := make(chan string)
	go func() {
		b, _ := io.ReadAll(bufio.NewReader(stdout))
		summary <- string(b)
	}()
	status := fmt.Sprintf("/proc/%d/status", tap.Process.Pid)
	// Give tap its start (hooks attached) before the traffic.
	time.Sleep(3 * time.Second)
	type sample struct {
		at        time.Duration
		rss, anon int64
	}
	var samples []sample
	var peak, peakAnon int64
	trafficDone := make(chan error, 1)
	url := fmt.Sprintf("http://127.0.0.1:%d/item.json", port)
	go func() {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			run := min(10*time.Second, time.Until(end)).Round(time.Second)
			if run < time.Second {
				break
			}
			if msg, err := exec.CommandContext(ctx, "h2load", "--h1", "-c", "10", "--rps", "50", "-D", fmt.Sprint(int(run.Seconds())), url).CombinedOutput(); err != nil {
				trafficDone <- fmt.Errorf("h2load: %w: %s", err, msg)
				return
			}
		}
		trafficDone <- nil
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var terr error
loop:
	for {
		select {
		case terr = <-trafficDone:
			break loop
		case <-tick.C:
			rss, anon := statusKB(status, "VmRSS:"), statusKB(status, "RssAnon:")
			samples = append(samples, sample{time.Since(t0), rss, anon})
			peak, peakAnon = max(peak, statusKB(status, "VmHWM:")), max(peakAnon, anon)
		}
	}
	tap.Process.Signal(syscall.SIGINT)
	werr := tap.Wait()
	sum := <-summary
	if terr != nil {
		return terr
	}
	if werr != nil {
		return fmt.Errorf("tap: %w: %s", werr, stderr.String())
	}
	records := ""
	for _, l := range strings.Split(sum+"\n"+stderr.String(), "\n") {
		if strings.Contains(l, "records:") {
			records = strings.TrimSpace(l)
			break
		}
	}
	fmt.Fprintf(out, "\n`kubeshark tap`, every built-in loaded, %s of nginx/h2load (10 clients × 50 req/s, new connections every 10 s): %s\n\n", d, records)
	fmt.Fprintf(out, "peak RSS %d MB (anonymous %d MB)\n\n", peak>>20, peakAnon>>20)
	fmt.Fprintln(out, "| time | RSS | anonymous |")
	fmt.Fprintln(out, "|---|---|---|")
	step := max(len(samples)/10, 1)
	for i := 0; i < len(samples); i += step {
		s := samples[i]
		fmt.Fprintf(out, "| %s | %d MB | %d MB |\n", s.at.Round(time.Second), s.rss>>20, s.anon>>20)
	}
	if n := len(samples); n > 0 {
		s := samples[n-1]
		fmt.Fprintf(out, "| %s (last) | %d MB | %d MB |\n", s.at.Round(time.Second), s.rss>>20, s.anon>>20)
	}
	return nil
}
