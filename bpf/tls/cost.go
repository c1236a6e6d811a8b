package tls

import (
	"fmt"
	"time"

	"github.com/cilium/ebpf"
)

// ProgramCost is what one of the tracer's BPF programs has cost so far.
type ProgramCost struct {
	Runs    uint64
	Runtime time.Duration
}

// PerRun is the mean cost of one run.
func (c ProgramCost) PerRun() time.Duration {
	if c.Runs == 0 {
		return 0
	}
	return c.Runtime / time.Duration(c.Runs)
}

// bpfStatsRunTime is BPF_STATS_RUN_TIME (linux/bpf.h), spelled out so the
// package builds where golang.org/x/sys/unix does not define it.
const bpfStatsRunTime = 0

// enableStats turns on the kernel's run-time accounting of BPF programs
// (kernel.bpf_stats_enabled) for as long as the returned closer is open.
func enableStats() (interface{ Close() error }, error) {
	c, err := ebpf.EnableStats(bpfStatsRunTime)
	if err != nil {
		return nil, fmt.Errorf("tls: enabling BPF run-time statistics: %w", err)
	}
	return c, nil
}

// ProgramCosts returns each program's runs and run time, by program name
// (ssl_read_enter, sys_enter_fd, go_tls_ret, ...). The kernel counts them
// only while Config.ProgramStats holds statistics on; the figures are for
// benchmarks (the cost per run of each hook), not for every deployment,
// since the accounting itself costs every BPF program on the machine a
// little.
func (t *Tracer) ProgramCosts() (map[string]ProgramCost, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("tls: tracer closed")
	}
	out := map[string]ProgramCost{}
	for name, p := range map[string]*ebpf.Program{
		"ssl_read_enter": t.objs.SslReadEnter, "ssl_read_exit": t.objs.SslReadExit,
		"ssl_write_enter": t.objs.SslWriteEnter, "ssl_write_exit": t.objs.SslWriteExit,
		"ssl_read_ex_enter": t.objs.SslReadExEnter, "ssl_read_ex_exit": t.objs.SslReadExExit,
		"ssl_write_ex_enter": t.objs.SslWriteExEnter, "ssl_write_ex_exit": t.objs.SslWriteExExit,
		"sys_enter_fd": t.objs.SysEnterFd, "sys_enter_close": t.objs.SysEnterClose,
		"sched_exec": t.objs.SchedExec, "sched_exit": t.objs.SchedExit,
		"go_tls_enter": t.objs.GoTlsEnter, "go_tls_ret": t.objs.GoTlsRet,
		"go_tls_enter_multi": t.objs.GoTlsEnterMulti, "go_tls_ret_multi": t.objs.GoTlsRetMulti,
	} {
		s, err := p.Stats()
		if err != nil {
			return nil, fmt.Errorf("tls: statistics of %s: %w", name, err)
		}
		out[name] = ProgramCost{Runs: s.RunCount, Runtime: s.Runtime}
	}
	return out, nil
}
