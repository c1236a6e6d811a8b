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
// the run, and at 1, 5, 10, 20 and 30 minutes. With a non-nil log every
// second's sample is written to it as it is taken (elapsed seconds, RSS,
// anonymous RSS in MB, tap's CPU seconds so far), so a long soak can be
// followed while it runs. It needs root (tap's eBPF hooks).
func tapSoak(ctx context.Context, bin, cache string, d time.Duration, log io.Writer, out io.Writer) error {
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
	stat := fmt.Sprintf("/proc/%d/stat", tap.Process.Pid)
	// Give tap its start (hooks attached) before the traffic.
	time.Sleep(3 * time.Second)
	type sample struct {
		at        time.Duration
		rss, anon int64
		cpu       time.Duration
	}
	var samples []sample
	var peak, peakAnon int64
	trafficDone := make(chan error, 1)
	var sent int64 // requests h2load saw succeed
	url := fmt.Sprintf("http://127.0.0.1:%d/item.json", port)
	go func() {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			run := min(10*time.Second, time.Until(end)).Round(time.Second)
			if run < time.Second {
				break
			}
			msg, err := exec.CommandContext(ctx, "h2load", "--h1", "-c", "10", "--rps", "50", "-D", fmt.Sprint(int(run.Seconds())), url).CombinedOutput()
			if err != nil {
				trafficDone <- fmt.Errorf("h2load: %w: %s", err, msg)
				return
			}
			sent += max(atoi64(reH2Done, string(msg)), 0)
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
			s := sample{time.Since(t0), rss, anon, procCPU(stat)}
			samples = append(samples, s)
			if log != nil {
				fmt.Fprintf(log, "%.0f %d %d %.2f\n", s.at.Seconds(), s.rss>>20, s.anon>>20, s.cpu.Seconds())
			}
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
	all := sum + "\n" + stderr.String()
	records, drops := atoi64(reRecords, all), atoi64(reKernelLoss, all)
	cpu := tap.ProcessState.UserTime() + tap.ProcessState.SystemTime()
	fmt.Fprintf(out, "\n`kubeshark tap`, every built-in loaded, %s of nginx/h2load (10 clients × 50 req/s, new connections every 10 s): %d requests succeeded, %d records stored, %d packets lost in the kernel; tap's CPU %.1f s in %s (%.1f%% of a core)\n\n",
		d, sent, records, drops, cpu.Seconds(), time.Since(t0).Round(time.Second), 100*cpu.Seconds()/time.Since(t0).Seconds())
	fmt.Fprintf(out, "peak RSS %d MB (anonymous %d MB)\n\n", peak>>20, peakAnon>>20)
	fmt.Fprintln(out, "| time | RSS | anonymous | tap CPU so far |")
	fmt.Fprintln(out, "|---|---|---|---|")
	row := func(s sample, note string) {
		fmt.Fprintf(out, "| %s%s | %d MB | %d MB | %.1f s |\n", s.at.Round(time.Second), note, s.rss>>20, s.anon>>20, s.cpu.Seconds())
	}
	marks := []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute}
	if d < 5*time.Minute {
		marks = nil
		for i := 1; i <= 10; i++ {
			marks = append(marks, d*time.Duration(i)/10)
		}
	}
	next := 0
	for _, s := range samples {
		if next < len(marks) && s.at >= marks[next] {
			row(s, "")
			for next < len(marks) && s.at >= marks[next] {
				next++
			}
		}
	}
	if n := len(samples); n > 0 {
		row(samples[n-1], " (last)")
	}
	return nil
}

// procCPU is a process's user and system CPU time so far, from its
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux);
// 0 if it cannot be read.
func procCPU(stat string) time.Duration {
	b, err := os.ReadFile(stat)
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis start at field 3.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// soakOnly runs the tap soak alone (-only soak), with a compile cache of
// its own, so tap's first start compiles every built-in as a new user's
// does; logPath, when set, receives every sample as it is taken.
func soakOnly(ctx context.Context, bin string, d time.Duration, logPath string, out io.Writer) error {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (make build builds it)", bin, err)
	}
	cache, err := os.MkdirTemp("", "kubeshark-bench-soak-cache")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)
	var log io.Writer
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return fmt.Errorf("soak log: %w", err)
		}
		defer f.Close()
		log = f
	}
	return tapSoak(ctx, bin, cache, d, log, out)
}
