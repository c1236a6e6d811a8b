package synth

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

func writeSample(t *testing.T, n int) (string, Stats) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "http.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := HTTPSample(ctx, f, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, st
}

func TestHTTPSample(t *testing.T) {
	const n = 120
	path, st := writeSample(t, n)
	if st.Requests != n || st.Responses != n {
		t.Fatalf("stats %+v", st)
	}
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "HEAD"} {
		if st.Methods[m] == 0 {
			t.Errorf("no %s requests: %v", m, st.Methods)
		}
	}
	for _, code := range []int{200, 201, 204, 304, 404, 500, 503} {
		if st.Statuses[code] == 0 {
			t.Errorf("no %d responses: %v", code, st.Statuses)
		}
	}
	if st.Conns < 2 || st.Conns > sampleClients {
		t.Errorf("%d connections, want keep-alive over 2..%d", st.Conns, sampleClients)
	}

	flows, ds := readBack(t, path)
	if int(ds.Packets) != st.Packets {
		t.Fatalf("read %d packets, wrote %d", ds.Packets, st.Packets)
	}
	var reqs, resps int
	for k, f := range flows {
		if k.t != packet.TCP {
			t.Fatalf("unexpected flow %v", k)
		}
		// Request lines end in " HTTP/1.1", status lines start with
		// "HTTP/1.1 ", and no body here contains either.
		if k.dst.Port() == 80 {
			reqs += bytes.Count(f.data, []byte(" HTTP/1.1\r\n"))
		} else {
			resps += bytes.Count(f.data, []byte("HTTP/1.1 "))
		}
	}
	if reqs != n || resps != n {
		t.Fatalf("found %d requests and %d responses in the capture, want %d", reqs, resps, n)
	}
}

func tshark(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // warnings such as "Running as user root" go here
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.Bytes())
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestHTTPSampleTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not on PATH (apt-get install tshark): cannot cross-check the capture with Wireshark's dissectors")
	}
	const n = 200
	path, st := writeSample(t, n)

	methods := tshark(t, "-r", path, "-Y", "http.request", "-T", "fields", "-e", "http.request.method")
	codes := tshark(t, "-r", path, "-Y", "http.response", "-T", "fields", "-e", "http.response.code")
	if len(methods) != st.Requests || len(codes) != st.Responses {
		t.Errorf("tshark found %d requests and %d responses, HTTPSample sent %d and %d", len(methods), len(codes), st.Requests, st.Responses)
	}
	gotMethods := map[string]int{}
	for _, m := range methods {
		gotMethods[m]++
	}
	for m, c := range st.Methods {
		if gotMethods[m] != c {
			t.Errorf("method %s: tshark %d, sent %d", m, gotMethods[m], c)
		}
	}
	gotCodes := map[int]int{}
	for _, c := range codes {
		code, _ := strconv.Atoi(c)
		gotCodes[code]++
	}
	for code, c := range st.Statuses {
		if gotCodes[code] != c {
			t.Errorf("status %d: tshark %d, sent %d", code, gotCodes[code], c)
		}
	}

	// Checksums and TCP state must look like a clean capture to Wireshark.
	checkTsharkClean(t, path)
}

// checkTsharkClean fails if Wireshark finds bad checksums, malformed frames
// or TCP state problems in the capture at path.
func checkTsharkClean(t *testing.T, path string) {
	t.Helper()
	bad := tshark(t, "-r", path,
		"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-Y", `ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || _ws.malformed || tcp.analysis.lost_segment || tcp.analysis.retransmission || tcp.analysis.out_of_order || tcp.analysis.ack_lost_segment`)
	if len(bad) > 0 {
		t.Fatalf("tshark flags %d frames, first: %s", len(bad), bad[0])
	}
}

func TestRelayEcho(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	path := filepath.Join(t.TempDir(), "echo.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	server := netip.MustParseAddrPort("10.0.1.7:7")
	r, err := NewRelay(ln.Addr().String(), w, RelayOptions{Server: server})
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("echo me "), 5000)
	for range 3 {
		c, err := net.Dial("tcp", r.Addr())
		if err != nil {
			t.Fatal(err)
		}
		go func() { c.Write(msg); c.(*net.TCPConn).CloseWrite() }()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo through relay: %d bytes, %v", len(got), err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if r.Conns() != 3 {
		t.Fatalf("%d conns", r.Conns())
	}
	flows, _ := readBack(t, path)
	if len(flows) != 6 {
		t.Fatalf("%d flows, want 6", len(flows))
	}
	for k, fl := range flows {
		if (k.dst != server && k.src != server) || !bytes.Equal(fl.data, msg) {
			t.Fatalf("flow %v: %d bytes", k, len(fl.data))
		}
	}
}

// BenchmarkHTTPSample reports the cost of one recorded request/response
// pair; run with -benchtime 100000x for the README's benchmark capture size.
func BenchmarkHTTPSample(b *testing.B) {
	b.ReportAllocs()
	st, err := HTTPSample(context.Background(), io.Discard, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Requests)/b.Elapsed().Seconds(), "requests/s")
	b.ReportMetric(float64(st.Packets)/float64(max(st.Requests, 1)), "packets/request")
}

// TestRelayClientAndClock checks that RelayOptions.Client gives every
// connection the one caller address (a port each) and that Clock, not the
// wall clock, stamps the frames.
func TestRelayClientAndClock(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	server := netip.MustParseAddrPort("10.0.0.30:8080")
	caller := netip.MustParseAddr("10.0.0.20")
	if _, err := NewRelay(ln.Addr().String(), nil, RelayOptions{Server: server, Client: netip.MustParseAddr("fd00::20")}); err == nil {
		t.Fatal("IPv6 client for an IPv4 server accepted")
	}

	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRelay(ln.Addr().String(), w, RelayOptions{Server: server, Client: caller, Clock: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c, err := net.Dial("tcp", r.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("ping"))
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != "ping" {
			t.Fatalf("echo through relay: %q, %v", got, err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "relay.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	flows, _ := readBack(t, path)
	want := map[netip.AddrPort]bool{
		netip.AddrPortFrom(caller, 49152): true,
		netip.AddrPortFrom(caller, 49153): true,
	}
	got := map[netip.AddrPort]bool{}
	for k, f := range flows {
		if k.dst == server {
			got[k.src] = true
		}
		for _, s := range f.segments {
			if !s.Timestamp.Equal(t0) {
				t.Fatalf("frame at %v, want the relay clock's %v", s.Timestamp, t0)
			}
		}
	}
	if len(got) != len(want) || !got[netip.AddrPortFrom(caller, 49152)] || !got[netip.AddrPortFrom(caller, 49153)] {
		t.Fatalf("client addresses %v, want %v", got, want)
	}
}
