package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// What tap costs others: the client's latency with and without tap at the
// same offered rate (from h2load's per-request log), and what each of tap's
// BPF programs costs per run under the load (bpf_stats).

// latency is one h2load run seen from the client.
type latency struct {
	done        int
	reqPerSec   float64
	p50, p99    time.Duration
	statusOther int // responses that were not 200
}

// readLatencyLog reads h2load's --log-file (tab-separated: start µs since
// the epoch, HTTP status, µs until the end of the response) and returns
// the exact median and 99th percentile over every request in it.
func readLatencyLog(path string) (latency, error) {
	f, err := os.Open(path)
	if err != nil {
		return latency{}, fmt.Errorf("h2load's request log: %w", err)
	}
	defer f.Close()
	var l latency
	var us []int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) < 3 {
			return l, fmt.Errorf("h2load's request log %s: line %q: want 3 tab-separated columns", path, sc.Text())
		}
		d, err := strconv.ParseInt(fs[2], 10, 64)
		if err != nil {
			return l, fmt.Errorf("h2load's request log %s: line %q: %w", path, sc.Text(), err)
		}
		if fs[1] != "200" {
			l.statusOther++
		}
		us = append(us, d)
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("h2load's request log %s: %w", path, err)
	}
	if len(us) == 0 {
		return l, fmt.Errorf("h2load's request log %s is empty", path)
	}
	slices.Sort(us)
	l.done = len(us)
	// Nearest-rank percentiles: the smallest value with at least p% of the
	// requests at or below it.
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(us))+0.999999) - 1
		return time.Duration(us[max(i, 0)]) * time.Microsecond
	}
	l.p50, l.p99 = rank(0.50), rank(0.99)
	return l, nil
}

// h2loadRun runs h2load with a per-request log and returns its output and
// the client's latency.
func h2loadRun(ctx context.Context, args []string, url, logPath string) (string, latency, error) {
	defer os.Remove(logPath)
	b, err := exec.CommandContext(ctx, "h2load", append(append(args, "--log-file", logPath), url)...).CombinedOutput()
	msg := string(b)
	if err != nil {
		return msg, latency{}, fmt.Errorf("h2load: %w: %s", err, msg)
	}
	l, err := readLatencyLog(logPath)
	if err != nil {
		return msg, l, err
	}
	if m := reH2Rate.FindStringSubmatch(msg); m != nil {
		l.reqPerSec, _ = strconv.ParseFloat(m[1], 64)
	}
	return msg, l, nil
}

// enableBPFStats turns on the kernel's run-time statistics of BPF programs
// (what sysctl kernel.bpf_stats_enabled=1 does) for as long as the returned
// closer stays open. The BPF_ENABLE_STATS file descriptor is used rather
// than the sysctl so that the setting is restored however the benchmark
// ends, even killed; the kernel counts while either is on.
func enableBPFStats() (io.Closer, error) {
	c, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("enabling bpf_stats: %w", err)
	}
	return c, nil
}

// progStat is one BPF program's accumulated statistics.
type progStat struct {
	name string
	typ  ebpf.ProgramType
	runs uint64
	ns   time.Duration
}

// bpfProgsOf reads the statistics of the BPF programs process pid holds
// open: the prog_id of each BPF program file descriptor in
// /proc/PID/fdinfo. Only that process's programs count, whatever else the
// machine has loaded.
func bpfProgsOf(pid int) (map[ebpf.ProgramID]progStat, error) {
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tap's BPF programs: %w", err)
	}
	out := map[ebpf.ProgramID]progStat{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			v, ok := strings.CutPrefix(line, "prog_id:")
			if !ok {
				continue
			}
			id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				continue
			}
			if _, seen := out[ebpf.ProgramID(id)]; seen {
				continue
			}
			p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
			if err != nil {
				continue
			}
			st, err := p.Stats()
			info, ierr := p.Info()
			p.Close()
			if err != nil || ierr != nil {
				return nil, fmt.Errorf("program %d: %w", id, errors.Join(err, ierr))
			}
			out[ebpf.ProgramID(id)] = progStat{name: info.Name, typ: info.Type, runs: st.RunCount, ns: st.Runtime}
		}
	}
	return out, nil
}

// hookCost is the cost of one group of tap's programs over the load.
type hookCost struct {
	runs uint64
	ns   time.Duration
}

func (h hookCost) String() string {
	if h.runs == 0 {
		return "0 runs"
	}
	return fmt.Sprintf("%d runs, %.0f ns/run", h.runs, float64(h.ns)/float64(h.runs))
}

// hookGroups are the columns of the BPF cost table.
var hookGroups = []string{"cgroup_skb egress", "cgroup_skb ingress", "conns tracepoints", "TLS uprobes", "TLS tracepoints (fds, exec, exit)", "other (loaded, not attached here)"}

// tlsTracepoints are the TLS tracer's tracepoint programs (bpf/tls/tls.c);
// every other tracepoint program of tap's is the conns one's.
var tlsTracepoints = map[string]bool{"sys_enter_fd": true, "sys_enter_close": true, "sched_exec": true, "sched_exit": true}

// groupOf says which column a program falls in.
func groupOf(p progStat) string {
	switch {
	case p.typ == ebpf.CGroupSKB && strings.Contains(p.name, "egress"):
		return "cgroup_skb egress"
	case p.typ == ebpf.CGroupSKB:
		return "cgroup_skb ingress"
	case p.typ == ebpf.TracePoint && tlsTracepoints[p.name]:
		return "TLS tracepoints (fds, exec, exit)"
	case p.typ == ebpf.TracePoint:
		return "conns tracepoints"
	case p.typ == ebpf.Kprobe: // uprobes are kprobe-type programs
		return "TLS uprobes"
	}
	return hookGroups[len(hookGroups)-1]
}

// bpfCost is what each group of programs ran between two snapshots.
func bpfCost(before, after map[ebpf.ProgramID]progStat) map[string]hookCost {
	out := map[string]hookCost{}
	for id, a := range after {
		b := before[id]
		g := groupOf(a)
		c := out[g]
		c.runs += a.runs - b.runs
		c.ns += a.ns - b.ns
		out[g] = c
	}
	return out
}
