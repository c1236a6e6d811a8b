package main_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/kubeshark-wasm/kubeshark/bpf/droptest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// TestTapFlowsCarryProcesses runs tap over real nginx, redis-server, curl
// and redis-cli, with one in five of the server's packets lost on the veth
// during a download and a connection refused, and checks that the stored
// flows name each local end's process and cgroup and carry the kernel's
// retransmit and reset counts and open/close times: through `kubeshark
// flows`, its filters, and KFL on the calls.
func TestTapFlowsCarryProcesses(t *testing.T) {
	requireTap(t)
	n := newTestNet(t)
	n.servers(t)
	data := t.TempDir()
	tap := startTap(t, data, "--tls=false", "--no-status", "--filter", "tcp port 80 or tcp port 81 or tcp port 6379")
	if !strings.Contains(tap.out.String(), "TCP events") {
		t.Fatalf("the capturing line does not name the TCP events:\n%s", tap.out)
	}

	curl(t, "http://"+n.nsIP+"/t/hello")
	run(t, "redis-cli", "-h", n.nsIP, "set", "k", "v")
	// Nothing listens on 81: the namespace answers the SYN with a RST.
	exec.Command("curl", "-s", "--max-time", "5", "http://"+n.nsIP+":81/").Run()
	loss, err := droptest.Attach(n.hostIf, ebpf.AttachTCXIngress, 5)
	if err != nil {
		t.Fatal(err)
	}
	run(t, "curl", "-sf", "--max-time", "60", "-o", "/dev/null", "http://"+n.nsIP+"/t/big")
	loss.Close()
	tap.waitCalls(t, data, `http && path == "/t/big"`, 1)
	if code := tap.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("tap exited %d:\n%s", code, tap.out)
	}
	if !strings.Contains(tap.out.String(), "flows given their process") {
		t.Errorf("tap's summary says nothing of the TCP events:\n%s", tap.out)
	}

	flows := func(args ...string) []sdk.Flow {
		t.Helper()
		r := ks(t, data, append([]string{"flows", "-o", "json", "-n", "1000"}, args...)...)
		if r.code != 0 {
			t.Fatalf("flows %v: %+v", args, r)
		}
		var fs []sdk.Flow
		if err := json.Unmarshal([]byte(r.stdout), &fs); err != nil {
			t.Fatalf("flows %v: %v\n%s", args, err, r.stdout)
		}
		return fs
	}
	all := flows()
	byPort := map[uint16][]sdk.Flow{}
	for _, f := range all {
		if f.Client.IP == n.hostIP && f.Server.IP == n.nsIP {
			byPort[f.Server.Port] = append(byPort[f.Server.Port], f)
		}
	}
	describe := func(f sdk.Flow) string {
		b, _ := json.Marshal(f)
		return string(b)
	}
	check := func(f sdk.Flow, client, server string) {
		t.Helper()
		c, s := f.Client.Process, f.Server.Process
		if c == nil || c.Comm != client || c.PID == 0 || c.CgroupID == 0 {
			t.Errorf("client process %+v, want %s with pid and cgroup id: %s", c, client, describe(f))
		}
		if s == nil || s.Comm != server || s.PID == 0 || s.CgroupID == 0 {
			t.Errorf("server process %+v, want %s with pid and cgroup id: %s", s, server, describe(f))
		}
		if f.PID != c.PID || f.Comm != client || f.CgroupID == 0 {
			t.Errorf("flow's local process %d %q %d, want the client's", f.PID, f.Comm, f.CgroupID)
		}
		k := f.Kernel
		if k == nil || k.OpenedAt == nil || k.ClosedAt == nil || k.ClosedAt.Before(*k.OpenedAt) {
			t.Errorf("kernel lifecycle %+v, want open and close times: %s", k, describe(f))
		} else if d := k.OpenedAt.Sub(f.Start); d < -time.Second || d > time.Second {
			t.Errorf("kernel opened_at %v is %v from the first packet %v", k.OpenedAt, d, f.Start)
		}
	}
	if len(byPort[80]) != 2 || len(byPort[6379]) != 1 || len(byPort[81]) != 1 {
		t.Fatalf("flows by server port: %d to 80, %d to 6379, %d to 81; want 2, 1, 1", len(byPort[80]), len(byPort[6379]), len(byPort[81]))
	}
	var big sdk.Flow
	for _, f := range byPort[80] {
		check(f, "curl", "nginx")
		if f.ServerToClient.Bytes > 1<<20 {
			big = f
		}
	}
	check(byPort[6379][0], "redis-cli", "redis-server")
	if big.Kernel == nil || big.Kernel.Retransmits == 0 {
		t.Errorf("the download through a lossy link shows no kernel retransmits: %s", describe(big))
	}
	refused := byPort[81][0]
	if k := refused.Kernel; k == nil || k.ResetsReceived == 0 || k.ResetsSent == 0 {
		t.Errorf("refused connection: kernel %+v, want a reset sent (by the namespace) and received (by curl)", k)
	}

	// Filters on the process.
	for _, f := range flows("--comm", "redis-server") {
		if f.Server.Process == nil || f.Server.Process.Comm != "redis-server" {
			t.Errorf("--comm redis-server listed %s", describe(f))
		}
	}
	if got := flows("--comm", "redis-server"); len(got) != 1 {
		t.Errorf("--comm redis-server listed %d flows, want 1", len(got))
	}
	if got := flows("--pid", itoa(byPort[6379][0].Server.Process.PID)); len(got) != 1 {
		t.Errorf("--pid of redis-server listed %d flows, want 1", len(got))
	}
	if got := flows("--cgroup-id", itoa(int(byPort[6379][0].Client.Process.CgroupID))); len(got) < 4 {
		t.Errorf("--cgroup-id of the test's clients listed %d flows, want all 4", len(got))
	}
	table := ks(t, data, "flows", "--port", "6379")
	if !strings.Contains(table.stdout, "redis-cli(") || !strings.Contains(table.stdout, "redis-server(") {
		t.Errorf("flows table does not name the processes:\n%s", table.stdout)
	}

	// KFL on the records' ends.
	r := ks(t, data, "calls", "-o", "json", "--filter", `dst.process == "nginx" && src.process == "curl" && local_process_name == "curl"`)
	var calls []sdk.Record
	json.Unmarshal([]byte(r.stdout), &calls)
	if r.code != 0 || len(calls) != 2 {
		t.Errorf("calls from curl to nginx by KFL: %d (exit %d), want 2:\n%s%s", len(calls), r.code, r.stdout, r.stderr)
	}
}
