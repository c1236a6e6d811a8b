package l4

import (
	"net/netip"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/bpf/conns"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

var (
	t0     = time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	cli    = netip.MustParseAddrPort("10.0.0.1:40000")
	srv    = netip.MustParseAddrPort("10.0.0.2:80")
	noPort = netip.AddrPortFrom(cli.Addr(), 0)
)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// lifecycle is one local-to-local connection as bpf/conns reports it: the
// client's connect before its port is chosen, the passive open in softirq
// (no pid), accept in the server, a retransmission, close from both ends.
func lifecycle(start int, cliSock, srvSock uint64) []conns.Event {
	return []conns.Event{
		{Kind: conns.State, Time: at(start), Sock: cliSock, Local: noPort, Remote: srv, Old: conns.Close, New: conns.SynSent, PID: 100, Comm: "curl", Cgroup: 7},
		{Kind: conns.State, Time: at(start + 1), Sock: srvSock, Local: srv, Remote: cli, Old: conns.Listen, New: conns.SynRecv, Cgroup: 9},
		{Kind: conns.State, Time: at(start + 1), Sock: cliSock, Local: cli, Remote: srv, Old: conns.SynSent, New: conns.Established, Cgroup: 7},
		{Kind: conns.State, Time: at(start + 2), Sock: srvSock, Local: srv, Remote: cli, Old: conns.SynRecv, New: conns.Established, Cgroup: 9},
		{Kind: conns.Accept, Time: at(start + 3), Sock: srvSock, Local: srv, Remote: cli, PID: 200, Comm: "nginx", Cgroup: 9},
		{Kind: conns.Retransmit, Time: at(start + 4), Sock: srvSock, Local: srv, Remote: cli, Cgroup: 9},
		{Kind: conns.State, Time: at(start + 5), Sock: cliSock, Local: cli, Remote: srv, Old: conns.Established, New: conns.FinWait1, PID: 100, Comm: "curl", Cgroup: 7},
		{Kind: conns.State, Time: at(start + 6), Sock: srvSock, Local: srv, Remote: cli, Old: conns.Established, New: conns.CloseWait, Cgroup: 9},
		{Kind: conns.State, Time: at(start + 7), Sock: srvSock, Local: srv, Remote: cli, Old: conns.CloseWait, New: conns.LastAck, PID: 200, Comm: "nginx", Cgroup: 9},
		{Kind: conns.State, Time: at(start + 8), Sock: cliSock, Local: cli, Remote: srv, Old: conns.FinWait2, New: conns.Close, Cgroup: 7},
		{Kind: conns.State, Time: at(start + 8), Sock: srvSock, Local: srv, Remote: cli, Old: conns.LastAck, New: conns.Close, Cgroup: 9},
	}
}

func flowAt(start, end int) *sdk.Flow {
	return &sdk.Flow{Transport: "tcp", Client: sdk.Endpoint{IP: cli.Addr().String(), Port: cli.Port()},
		Server: sdk.Endpoint{IP: srv.Addr().String(), Port: srv.Port()}, Start: at(start), End: at(end)}
}

func TestAnnotateFlow(t *testing.T) {
	tab := New()
	// A packet of the client's SYN reaches the table before the event
	// that names the client's port: it must not make a second connection.
	first := lifecycle(0, 0xa, 0xb)
	tab.Observe(&first[0])
	tab.SeenPacket(cli, srv, 7, at(0))
	for i := range first[1:] {
		tab.Observe(&first[1+i])
	}
	tab.SeenPacket(cli, srv, 7, at(9)) // a late ACK after close
	// The tuple is reused a second later by new sockets.
	second := lifecycle(1000, 0xc, 0xd)
	second[4].PID, second[4].Comm = 201, "nginx2"
	second = append(second[:5], second[6:]...) // no retransmission this time
	for i := range second {
		tab.Observe(&second[i])
	}

	for _, tc := range []struct {
		name         string
		f            *sdk.Flow
		srvPID       int
		srvComm      string
		retrans      uint64
		opened, clos time.Time
	}{
		{"first", flowAt(0, 8), 200, "nginx", 1, at(0), at(8)},
		{"reused", flowAt(1000, 1008), 201, "nginx2", 0, at(1000), at(1008)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			if !tab.AnnotateFlow(f) {
				t.Fatal("connection not found")
			}
			if p := f.Client.Process; p == nil || p.PID != 100 || p.Comm != "curl" || p.CgroupID != 7 {
				t.Errorf("client process %+v, want curl pid 100 cgroup 7", p)
			}
			if p := f.Server.Process; p == nil || p.PID != tc.srvPID || p.Comm != tc.srvComm || p.CgroupID != 9 {
				t.Errorf("server process %+v, want %s pid %d cgroup 9", p, tc.srvComm, tc.srvPID)
			}
			if f.PID != 100 || f.Comm != "curl" || f.CgroupID != 7 {
				t.Errorf("flow's local process %d %q %d, want the client's", f.PID, f.Comm, f.CgroupID)
			}
			k := f.Kernel
			if k == nil || k.Retransmits != tc.retrans || k.OpenedAt == nil || !k.OpenedAt.Equal(tc.opened) || k.ClosedAt == nil || !k.ClosedAt.Equal(tc.clos) {
				t.Fatalf("kernel %+v, want %d retransmits, opened %v closed %v", k, tc.retrans, tc.opened, tc.clos)
			}
			if len(k.States) != 2 || k.States[0] != "CLOSE" || k.States[1] != "CLOSE" {
				t.Errorf("states %v, want both ends CLOSE", k.States)
			}
		})
	}
	if n := tab.Stats().Connections; n != 2 {
		t.Errorf("%d connections, want 2 (one per use of the tuple)", n)
	}
}

func TestResetsAndPacketOnlyCgroup(t *testing.T) {
	tab := New()
	// A refused connect: the peer's kernel sends a RST for no socket, the
	// client's socket receives it.
	// The reset sent is read first: it comes from another ring buffer
	// than the client's events.
	evs := []conns.Event{
		{Kind: conns.ResetSent, Time: at(1), Local: srv, Remote: cli},
		{Kind: conns.State, Time: at(0), Sock: 1, Local: noPort, Remote: srv, Old: conns.Close, New: conns.SynSent, PID: 5, Comm: "curl"},
		{Kind: conns.ResetReceived, Time: at(1), Sock: 1, Local: cli, Remote: srv},
		{Kind: conns.State, Time: at(1), Sock: 1, Local: cli, Remote: srv, Old: conns.SynSent, New: conns.Close},
	}
	for i := range evs {
		tab.Observe(&evs[i])
	}
	f := flowAt(0, 1)
	if !tab.AnnotateFlow(f) || f.Kernel == nil {
		t.Fatal("refused connection not found")
	}
	if f.Kernel.ResetsReceived != 1 || f.Kernel.ResetsSent != 1 || f.PID != 5 {
		t.Errorf("kernel %+v pid %d, want 1 reset sent and 1 received by pid 5", f.Kernel, f.PID)
	}
	if n := tab.Stats().Connections; n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	// A UDP flow known only from the packet hooks gets its cgroup id, and
	// no kernel lifecycle.
	dnsC, dnsS := netip.MustParseAddrPort("10.0.0.1:5353"), netip.MustParseAddrPort("10.0.0.2:53")
	tab.SeenPacket(dnsC, dnsS, 42, at(0))
	u := &sdk.Flow{Transport: "udp", Client: sdk.Endpoint{IP: "10.0.0.1", Port: 5353}, Server: sdk.Endpoint{IP: "10.0.0.2", Port: 53}, Start: at(0), End: at(1)}
	if !tab.AnnotateFlow(u) || u.CgroupID != 42 || u.Kernel != nil || u.Server.Process != nil {
		t.Errorf("udp flow: cgroup %d kernel %+v server %+v, want cgroup 42 on the client only", u.CgroupID, u.Kernel, u.Server.Process)
	}
	// A flow the kernel never reported stays as it was.
	other := &sdk.Flow{Transport: "tcp", Client: sdk.Endpoint{IP: "10.9.9.9", Port: 1}, Server: sdk.Endpoint{IP: "10.9.9.8", Port: 2}}
	if tab.AnnotateFlow(other) || other.Kernel != nil {
		t.Error("an unknown flow was annotated")
	}
}

func TestAnnotateRecord(t *testing.T) {
	tab := New()
	evs := lifecycle(0, 1, 2)
	for i := range evs {
		tab.Observe(&evs[i])
	}
	r := &sdk.Record{Timestamp: at(4), Src: sdk.Endpoint{IP: "10.0.0.1", Port: 40000}, Dst: sdk.Endpoint{IP: "10.0.0.2", Port: 80}}
	tab.AnnotateRecord(r)
	if r.Src.Process == nil || r.Src.Process.Comm != "curl" || r.Dst.Process == nil || r.Dst.Process.PID != 200 {
		t.Errorf("record ends %+v / %+v, want curl → nginx", r.Src.Process, r.Dst.Process)
	}
}

// Connections known only from packets (UDP) are forgotten once idle longer
// than the pipeline keeps a flow; open TCP connections stay.
func TestSweep(t *testing.T) {
	tab := New()
	evs := lifecycle(0, 1, 2)
	evs = evs[:5] // open, not closed
	for i := range evs {
		tab.Observe(&evs[i])
	}
	dns := netip.MustParseAddrPort("10.0.0.1:5353")
	tab.SeenPacket(dns, netip.MustParseAddrPort("10.0.0.2:53"), 42, at(0))
	late := at(0).Add(keepIdlePackets + keepClosed + time.Minute)
	tab.SeenPacket(netip.MustParseAddrPort("10.0.0.9:1"), netip.MustParseAddrPort("10.0.0.8:2"), 1, late)
	if !tab.AnnotateFlow(flowAt(0, 4)) {
		t.Error("an open TCP connection was forgotten")
	}
	u := &sdk.Flow{Transport: "udp", Client: sdk.Endpoint{IP: "10.0.0.1", Port: 5353}, Server: sdk.Endpoint{IP: "10.0.0.2", Port: 53}, Start: at(0), End: at(1)}
	if tab.AnnotateFlow(u) {
		t.Error("an idle packet-only connection was kept")
	}
}
