package live

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubeshark-wasm/kubeshark/bpf/packets"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/decode"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (CI runs as root)")
	}
}

// collect reads packets from src until stop returns true or the timeout.
func collect(t *testing.T, src *Source, timeout time.Duration, each func(capture.Packet) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		p, err := src.Next(ctx)
		if errors.Is(err, capture.ErrIdle) {
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if each(p) {
			return
		}
	}
}

// exchange sends req to a loopback server that answers with resp and waits
// for the client to read it all. It returns the server's address and how
// many segments the server retransmitted (a loaded machine can delay ACKs
// past the retransmission timeout even on loopback).
func exchange(t *testing.T, req []byte, resp []byte) (server *net.TCPAddr, retrans uint32) {
	t.Helper()
	return exchangeOn(t, "127.0.0.1", req, resp)
}

func exchangeOn(t *testing.T, host string, req []byte, resp []byte) (server *net.TCPAddr, retrans uint32) {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	read := make(chan struct{})
	info := make(chan uint32, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			info <- 0
			return
		}
		defer c.Close()
		buf := make([]byte, len(req))
		io.ReadFull(c, buf)
		c.Write(resp)
		<-read
		var n uint32
		if rc, err := c.(*net.TCPConn).SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) {
				if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
					n = ti.Total_retrans
				}
			})
		}
		info <- n
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(req)
	if _, err := io.ReadFull(c, make([]byte, len(resp))); err != nil {
		t.Fatal(err)
	}
	close(read)
	return ln.Addr().(*net.TCPAddr), <-info
}

// TestLocalPacketsOnceBigOnesWholeChecksumsIgnored exchanges a request and
// a 1 MiB answer over loopback, where both ends are local sockets and the
// kernel hands GSO super-packets with unfilled checksums to the hooks. It
// checks that every payload byte arrives exactly once (no egress/ingress
// duplicates: the kernel leaves out the ingress copies), that packets larger than a ring-buffer chunk are joined
// whole, and that the decoder takes packets whose checksum is unfilled.
func TestLocalPacketsOnceBigOnesWholeChecksumsIgnored(t *testing.T) {
	requireRoot(t)
	src, err := Open(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	req := bytes.Repeat([]byte("q"), 100)
	resp := make([]byte, 1<<20)
	for i := range resp {
		resp[i] = byte(i * 7)
	}
	server, retrans := exchange(t, req, resp)
	src.Stop()

	dec := decode.New(decode.Options{})
	var seg packet.Segment
	var toClient, toServer, biggest, badSum, decoded int
	var ranges [][2]uint32 // sequence ranges sent to the client
	collect(t, src, 10*time.Second, func(p capture.Packet) bool {
		ok, err := dec.Decode(p, &seg)
		if err != nil || !ok || seg.Transport != packet.TCP {
			return false
		}
		switch {
		case seg.Src.Port() == uint16(server.Port) && seg.Src.Addr().IsLoopback():
			toClient += len(seg.Payload)
			if len(seg.Payload) > 0 {
				ranges = append(ranges, [2]uint32{seg.Seq, seg.Seq + uint32(len(seg.Payload))})
			}
		case seg.Dst.Port() == uint16(server.Port) && seg.Dst.Addr().IsLoopback():
			toServer += len(seg.Payload)
		default:
			return false
		}
		decoded++
		biggest = max(biggest, len(p.Data))
		if !tcpChecksumOK(p.Data) {
			badSum++
		}
		return false
	})
	if covered := union(ranges); covered != len(resp) {
		t.Fatalf("the packets to the client cover %d bytes of the %d sent", covered, len(resp))
	}
	if retrans == 0 && (toServer != len(req) || toClient != len(resp)) {
		t.Fatalf("payload bytes captured: %d to the server, %d to the client; want %d and %d (each once)", toServer, toClient, len(req), len(resp))
	}
	if retrans > 0 {
		t.Logf("the server retransmitted %d segments: %d bytes to the client include them", retrans, toClient)
	}
	if biggest <= 16384 {
		t.Errorf("largest packet %d bytes: want GSO super-packets above a chunk (16 KiB)", biggest)
	}
	if badSum == 0 {
		t.Errorf("no packet of %d has an unfilled checksum; the test does not exercise them", decoded)
	}
	st := src.Stats()
	k, err := src.Kernel()
	if err != nil {
		t.Fatal(err)
	}
	if k.Twins == 0 {
		t.Errorf("kernel counters %+v: want the ingress copies left out in the kernel (twins)", k)
	}
	t.Logf("%d packets, largest %d bytes, %d with unfilled checksums; stats %+v; kernel %+v", decoded, biggest, badSum, st, k)
}

// union is how many sequence numbers the ranges cover, measured from the
// first range's start (the test's ranges are within 4 GiB of it).
func union(ranges [][2]uint32) int {
	if len(ranges) == 0 {
		return 0
	}
	base := ranges[0][0]
	covered := map[uint32]bool{}
	for _, r := range ranges {
		for s := r[0]; s != r[1]; s++ {
			covered[s-base] = true
		}
	}
	return len(covered)
}

// tcpChecksumOK verifies an IPv4 TCP packet's checksum.
func tcpChecksumOK(ip []byte) bool {
	ihl := int(ip[0]&0x0f) * 4
	seg := ip[ihl:int(binary.BigEndian.Uint16(ip[2:]))]
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(ip[12:20])
	sum += 6 + uint32(len(seg))
	add(seg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}

// TestStopDrains: packets captured before Stop are all returned, once
// each, then EOF; over IPv4 and IPv6 loopback.
func TestStopDrains(t *testing.T) {
	requireRoot(t)
	for _, addr := range []string{"127.0.0.1", "[::1]"} {
		t.Run(addr, func(t *testing.T) {
			src, err := Open(context.Background(), Options{FlushInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			exchangeOn(t, addr, []byte("ping-"+addr), []byte("pong-"+addr))
			src.Stop()
			n := 0
			eof := false
			for i := 0; i < 1_000_000; i++ {
				p, err := src.Next(context.Background())
				if errors.Is(err, io.EOF) {
					eof = true
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(p.Data, []byte("ping-"+addr)) || bytes.Contains(p.Data, []byte("pong-"+addr)) {
					n++
				}
			}
			if !eof || n != 2 {
				t.Fatalf("after Stop: eof=%v, %d packets carrying the ping and pong, want EOF and 2", eof, n)
			}
		})
	}
}

func TestPrivilegesNamed(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("run as a user without capabilities to see the error (cmd/kubeshark's TestTapNamesMissingCapabilities drops them as root)")
	}
	_, err := Open(context.Background(), Options{})
	if !errors.Is(err, packets.ErrPermission) || !bytes.Contains([]byte(err.Error()), []byte("CAP_BPF")) {
		t.Fatalf("Open without privileges: %v, want ErrPermission naming CAP_BPF", err)
	}
}

// TestOverrunIsCountedAndCaptureGoesOn fills a 64 KiB ring buffer with a
// 1 MiB transfer nobody reads: the kernel counts what it could not deliver,
// and packets sent after the reader caught up are captured whole.
func TestOverrunIsCountedAndCaptureGoesOn(t *testing.T) {
	requireRoot(t)
	src, err := Open(context.Background(), Options{Probe: packetsConfigTiny()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	exchange(t, []byte("burst"), make([]byte, 1<<20))
	k, err := src.Kernel()
	if err != nil {
		t.Fatal(err)
	}
	if k.Lost == 0 || k.LostBytes == 0 {
		t.Fatalf("kernel counters after overrunning a 64 KiB ring: %+v, want losses", k)
	}
	// With a reader keeping up again, capture works: packets sent now
	// arrive (read as they come, since other traffic on the machine
	// fills so small a ring within moments).
	found := make(chan int, 1)
	go func() {
		n := 0
		collect(t, src, 10*time.Second, func(p capture.Packet) bool {
			if bytes.Contains(p.Data, []byte("after-the-burst")) || bytes.Contains(p.Data, []byte("still-here")) {
				n++
			}
			return n == 2
		})
		found <- n
	}()
	time.Sleep(200 * time.Millisecond)
	exchange(t, []byte("after-the-burst"), []byte("still-here"))
	if n := <-found; n != 2 {
		t.Fatalf("after the overrun: %d of the 2 packets carrying data captured", n)
	}
	t.Logf("kernel: %+v; source: %+v", k, src.Stats())
}

func packetsConfigTiny() packets.Config { return packets.Config{RingBytes: 64 << 10} }

// TestKernelPortFilter: with Probe.Ports the cgroup hooks leave out other
// ports' packets before they reach the ring buffer, and count them.
func TestKernelPortFilter(t *testing.T) {
	requireRoot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	src, err := Open(context.Background(), Options{Probe: packets.Config{Ports: [][2]uint16{{port, port}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	// The wanted port: a listener on it answers.
	wantedLn, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Skipf("port %d taken meanwhile: %v", port, err)
	}
	go func() {
		c, err := wantedLn.Accept()
		if err == nil {
			c.Write([]byte("wanted-port"))
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", wantedLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(c)
	c.Close()
	wantedLn.Close()
	exchange(t, []byte("other-port"), []byte("other-port-answer"))
	src.Stop()
	var wanted, other int
	collect(t, src, 5*time.Second, func(p capture.Packet) bool {
		if bytes.Contains(p.Data, []byte("wanted-port")) {
			wanted++
		}
		if bytes.Contains(p.Data, []byte("other-port")) {
			other++
		}
		return false
	})
	k, _ := src.Kernel()
	if wanted != 1 || other != 0 || k.Filtered == 0 {
		t.Fatalf("packets carrying data: %d on port %d, %d on another; kernel %+v: want 1, 0 and packets filtered", wanted, port, other, k)
	}
}
