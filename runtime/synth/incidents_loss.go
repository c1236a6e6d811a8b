//go:build linux

package synth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"
)

// Addresses of the packet-loss incident, inside the two network
// namespaces it makes (nothing is added to the host's own network).
const (
	lossClientIP = incFrontIP // the quotes API's caller
	lossServerIP = "10.0.0.70"
	lossServerAt = lossServerIP + ":8080"
)

// lossRuns numbers the runs of one process, for unique namespace names.
var lossRuns atomic.Uint32

// runPacketLoss: web (10.0.0.10) → quotes (10.0.0.70:8080) over a real
// link: a veth pair between two network namespaces the scenario makes,
// with net/http on both ends and the capture taken from the client's end
// of the link (AF_PACKET). From the onset the link drops 25% of the
// packets in each direction (startLoss): TCP retransmits after its
// timeouts, calls take hundreds of milliseconds instead of one, and some
// reach the client's 950ms timeout. Unlike the other incidents this one runs
// on the real clock, for the minute it lasts (its times are shifted to
// the asked start), and what is lost is random: the records differ run to
// run, the incident does not. It needs root, ip (iproute2) and eBPF.
func runPacketLoss(ctx context.Context, s *stage) (GroundTruth, error) {
	if os.Geteuid() != 0 {
		return GroundTruth{}, fmt.Errorf("%w: packet-loss makes network namespaces and attaches eBPF programs", ErrNeedsRoot)
	}
	for _, tool := range []string{"ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return GroundTruth{}, fmt.Errorf("%w: %s (Debian package iproute2)", ErrMissingTool, tool)
		}
	}
	tag := fmt.Sprintf("ksloss%d-%d", os.Getpid()%100000, lossRuns.Add(1))
	cliNS, srvNS := tag+"c", tag+"s"
	cliIf, srvIf := "ksl"+tag[6:]+"a", "ksl"+tag[6:]+"b"
	defer func() {
		// Deleting a namespace deletes its end of the veth, and so both.
		exec.Command("ip", "netns", "del", cliNS).Run()
		exec.Command("ip", "netns", "del", srvNS).Run()
	}()
	for _, args := range [][]string{
		{"netns", "add", cliNS}, {"netns", "add", srvNS},
		{"link", "add", cliIf, "netns", cliNS, "type", "veth", "peer", "name", srvIf, "netns", srvNS},
		{"-n", cliNS, "addr", "add", lossClientIP + "/24", "dev", cliIf},
		{"-n", srvNS, "addr", "add", lossServerIP + "/24", "dev", srvIf},
		{"-n", cliNS, "link", "set", cliIf, "up"}, {"-n", srvNS, "link", "set", srvIf, "up"},
		{"-n", cliNS, "link", "set", "lo", "up"}, {"-n", srvNS, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return GroundTruth{}, fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}

	var ln net.Listener
	if err := inNetns(srvNS, func() (err error) { ln, err = net.Listen("tcp4", lossServerAt); return err }); err != nil {
		return GroundTruth{}, fmt.Errorf("listening in %s: %w", srvNS, err)
	}
	quote := strings.Repeat(`{"symbol":"KUBE","bid":101.25,"ask":101.27,"venue":"XFRA"},`, 100)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/quotes", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"quotes":[%s{"symbol":%q}]}`, quote, r.URL.Query().Get("symbols"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	var h *pcapgo.EthernetHandle
	if err := inNetns(cliNS, func() (err error) { h, err = pcapgo.NewEthernetHandle(cliIf); return err }); err != nil {
		return GroundTruth{}, fmt.Errorf("capturing on %s: %w", cliIf, err)
	}
	type frame struct {
		data []byte
		at   time.Time
	}
	var (
		mu     sync.Mutex
		frames []frame
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			data, ci, err := h.ReadPacketData()
			if err != nil {
				return
			}
			mu.Lock()
			frames = append(frames, frame{data, ci.Timestamp})
			mu.Unlock()
		}
	}()

	client := &http.Client{Timeout: 950 * time.Millisecond, Transport: &http.Transport{
		MaxIdleConnsPerHost: 16, DisableCompression: true,
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = inNetns(cliNS, func() (err error) {
				c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
	realStart := time.Now()
	var onset time.Time
	timeouts := 0
	symbols := []string{"KUBE", "SHRK", "WASM", "EBPF"}
	for n := range incidentSlots {
		time.Sleep(time.Until(realStart.Add(time.Duration(n) * time.Second)))
		if err := ctx.Err(); err != nil {
			break
		}
		if n == incidentOnset {
			onset = time.Now()
			closeLoss, err := startLoss(cliNS, cliIf, srvNS, srvIf)
			if err != nil {
				h.Close()
				return GroundTruth{}, err
			}
			defer closeLoss()
		}
		// Sixteen calls at once each second, one per connection: on a link
		// with a microsecond RTT a lost segment costs a retransmission
		// timeout (200ms) only when nothing follows it (a request, a
		// one-packet response), about half of the calls here, and the
		// calls of one slot end within its second (the client gives up
		// at 950ms).
		var wg sync.WaitGroup
		var slotErr error
		var smu sync.Mutex
		for k := range 16 {
			wg.Go(func() {
				err := getQuotes(ctx, client, symbols[(n+k)%len(symbols)])
				var ne net.Error
				smu.Lock()
				defer smu.Unlock()
				switch {
				case err == nil:
				case n >= incidentOnset && errors.As(err, &ne) && ne.Timeout():
					timeouts++ // the loss's own doing, and part of the incident
				case slotErr == nil:
					slotErr = fmt.Errorf("GET /api/quotes in slot %d: %w", n, err)
				}
			})
		}
		wg.Wait()
		if slotErr != nil {
			h.Close()
			return GroundTruth{}, slotErr
		}
	}
	// The connections close before the minute ends, as the other
	// incidents' do.
	time.Sleep(time.Until(realStart.Add(incidentSlots*time.Second - 300*time.Millisecond)))
	client.CloseIdleConnections()
	time.Sleep(250 * time.Millisecond) // the closing segments, retransmitted if need be
	h.Close()
	<-done

	shift := s.start.Sub(realStart)
	mu.Lock()
	defer mu.Unlock()
	conns := 0
	for _, f := range frames {
		p := gopacket.NewPacket(f.data, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		if t, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && t.SYN && !t.ACK {
			conns++
		}
		if err := s.pw.Frame(f.data, f.at.Add(shift)); err != nil {
			return GroundTruth{}, err
		}
	}
	s.udpConns += conns // counted with the stage's other connections
	s.clock.SleepUntil(s.start.Add(incidentSlots * time.Second))
	return GroundTruth{
		Description: fmt.Sprintf("web (%s) asks quotes (%s) for prices over a link between two network namespaces. From the onset the link drops %d%% of the packets each way (an eBPF program at each end's ingress): TCP retransmits after its timeouts, calls take hundreds of milliseconds instead of about one (%d of them reached the client's 950ms timeout), and the L4 flows show the retransmissions.", lossClientIP, lossServerAt, lossPercent, timeouts),
		Kind:        "latency", RootCause: lossServerAt, Onset: s.start.Add(onset.Sub(realStart)),
		Evidence: Evidence{Method: http.MethodGet, Path: "/api/quotes", Status: http.StatusOK, BodyContains: "XFRA"},
	}, ctx.Err()
}

// lossPercent is the share of packets startLoss drops each way.
const lossPercent = 25

// startLoss makes the link between the namespaces lose lossPercent of its
// packets each way: a TCX ingress program on each end drops them with
// bpf_get_prandom_u32, as netem's loss would. netem is not used: this
// kernel (and CI's) is built without sch_netem, and a qdisc drops on
// egress, before the capture's tap on the client's end sees the packet,
// so the capture would show gaps where a tap on a lossy link shows the
// lost segment and then its retransmission. On ingress the tap has seen
// the packet (packet sockets are served before the ingress hook), which
// is what a capture beside a lossy cable records.
func startLoss(cliNS, cliIf, srvNS, srvIf string) (func(), error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "ks_loss", Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{
			asm.FnGetPrandomU32.Call(),
			asm.Mod.Imm(asm.R0, 100),
			asm.JLT.Imm(asm.R0, lossPercent, "drop"),
			asm.Mov.Imm(asm.R0, 0), // TCX_PASS
			asm.Return(),
			asm.Mov.Imm(asm.R0, 2).WithSymbol("drop"), // TCX_DROP
			asm.Return(),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("loading the packet-loss program: %w", err)
	}
	var links []link.Link
	closeAll := func() {
		for _, l := range links {
			l.Close()
		}
		prog.Close()
	}
	for _, end := range [][2]string{{cliNS, cliIf}, {srvNS, srvIf}} {
		err := inNetns(end[0], func() error {
			ifc, err := net.InterfaceByName(end[1])
			if err != nil {
				return err
			}
			l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: prog, Attach: ebpf.AttachTCXIngress})
			if err != nil {
				return err
			}
			links = append(links, l)
			return nil
		})
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("attaching the packet-loss program to %s: %w", end[1], err)
		}
	}
	return closeAll, nil
}

// inNetns runs f on an OS thread moved into the named network namespace
// (ip netns), so that the sockets f makes belong to it. The thread is
// moved back afterwards, or, if that fails, left locked so that Go
// discards it when the goroutine ends.
func inNetns(name string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("opening this thread's network namespace: %w", err)
			return
		}
		defer unix.Close(orig)
		ns, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("opening network namespace %s: %w", name, err)
			return
		}
		defer unix.Close(ns)
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", name, err)
			return
		}
		err = f()
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// getQuotes is one call of the packet-loss incident, read to the end.
func getQuotes(ctx context.Context, c *http.Client, symbol string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+lossServerAt+"/api/quotes?symbols="+symbol, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "web/7.3")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}
