package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// flowSink stores records and flows, and checks as flows arrive that
// every record of a flow was stored before it.
type flowSink struct {
	memSink
	flows    []*sdk.Flow
	byStream map[string]int
	early    []string // flows stored before some of their records
	err      error    // returned by PutFlows
}

func (s *flowSink) Put(ctx context.Context, recs []*sdk.Record) error {
	s.mu.Lock()
	if s.byStream == nil {
		s.byStream = map[string]int{}
	}
	for _, r := range recs {
		s.byStream[r.Stream]++
	}
	s.mu.Unlock()
	return s.memSink.Put(ctx, recs)
}

func (s *flowSink) PutFlows(_ context.Context, flows []*sdk.Flow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	for _, f := range flows {
		if s.byStream[f.ID] != f.Records {
			s.early = append(s.early, f.ID)
		}
	}
	s.flows = append(s.flows, flows...)
	return nil
}

func runFlows(t *testing.T, pcap []byte, cfg pipeline.Config, ds ...engine.Dissector) (*flowSink, pipeline.Stats) {
	t.Helper()
	src, err := capture.NewSource("test.pcap", bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink := &flowSink{}
	st, err := pipeline.New(cfg, ds, sink).Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.early) > 0 {
		t.Errorf("flows stored before their records: %v", sink.early)
	}
	if st.Flows != int64(len(sink.flows)) {
		t.Errorf("stats count %d flows, sink got %d", st.Flows, len(sink.flows))
	}
	return sink, st
}

// flowsByID indexes flows and fails on a duplicate id.
func flowsByID(t *testing.T, flows []*sdk.Flow) map[string]*sdk.Flow {
	t.Helper()
	m := map[string]*sdk.Flow{}
	for _, f := range flows {
		if f.ID == "" || m[f.ID] != nil {
			t.Fatalf("flow id %q missing or repeated", f.ID)
		}
		m[f.ID] = f
	}
	return m
}

func TestFlowsOfRealTraffic(t *testing.T) {
	var buf bytes.Buffer
	want, err := synth.HTTPSample(context.Background(), &buf, 60)
	if err != nil {
		t.Fatal(err)
	}
	sink, st := runFlows(t, buf.Bytes(), pipeline.Config{Workers: 2, BatchSize: 7}, dissectortest.Builtin(t, "http1"))
	if len(sink.flows) != want.Conns || st.TCPStreams != int64(want.Conns) {
		t.Fatalf("%d flows, %d streams, generator made %d connections", len(sink.flows), st.TCPStreams, want.Conns)
	}
	flows := flowsByID(t, sink.flows)
	perFlow := map[string]int{}
	for _, r := range sink.recs {
		f := flows[r.Stream]
		if f == nil {
			t.Fatalf("record %s carries stream %q, which no flow has", r.Summary, r.Stream)
		}
		perFlow[r.Stream]++
		if r.Src != f.Client || r.Dst != f.Server {
			t.Errorf("record %s>%s, its flow %s>%s", r.Src, r.Dst, f.Client, f.Server)
		}
	}
	if len(sink.recs) != want.Requests {
		t.Fatalf("%d records, %d requests", len(sink.recs), want.Requests)
	}
	var payload uint64
	for _, f := range sink.flows {
		if f.Records != perFlow[f.ID] || f.Protocol != "http" || f.Transport != "tcp" {
			t.Errorf("flow %s: %d records (%d stored), protocol %q, transport %q", f.ID, f.Records, perFlow[f.ID], f.Protocol, f.Transport)
		}
		// The relay records the handshake (at one instant, so the RTT
		// is 0 today; the flow tests time real ones).
		if !f.HandshakeSeen || f.HandshakeRTTMs == nil || *f.HandshakeRTTMs < 0 {
			t.Errorf("flow %s: handshake seen %v rtt %v", f.ID, f.HandshakeSeen, f.HandshakeRTTMs)
		}
		if f.State != "closed" || f.CloseReason != "fin" || !f.Complete || f.Completeness != 31 {
			t.Errorf("flow %s: state %q close %q complete %v completeness %d", f.ID, f.State, f.CloseReason, f.Complete, f.Completeness)
		}
		if f.Server.Port != 80 || f.Client.Port == 80 {
			t.Errorf("flow %s: client %v server %v", f.ID, f.Client, f.Server)
		}
		c, s := f.ClientToServer, f.ServerToClient
		if c.Bytes == 0 || s.Bytes == 0 || c.Retransmissions+s.Retransmissions+c.LostSegments+s.LostSegments != 0 {
			t.Errorf("flow %s: %+v / %+v", f.ID, c, s)
		}
		payload += c.Bytes + s.Bytes
		if f.RTT == nil || f.TimeToFirstByteMs == nil || f.End.Before(f.Start) {
			t.Errorf("flow %s: rtt %v ttfb %v %s..%s", f.ID, f.RTT, f.TimeToFirstByteMs, f.Start, f.End)
		}
	}
	// Nothing was sent twice, so the flows' payload is what reassembly
	// delivered.
	if payload != st.Reassembly.BytesDelivered {
		t.Errorf("flows carry %d payload bytes, reassembly delivered %d", payload, st.Reassembly.BytesDelivered)
	}
}

func TestFlowCountsWhatWasSent(t *testing.T) {
	body := strings.Repeat("x", 5000) // four segments
	turns := []string{
		"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + body,
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"GET /down HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + body,
	}
	var sent [2]uint64
	for i, s := range turns {
		sent[i%2] += uint64(len(s))
	}
	sink, st := runFlows(t, writeConv(t, turns, true), pipeline.Config{}, dissectortest.Builtin(t, "http1"))
	if len(sink.flows) != 1 || len(sink.recs) != 2 || st.Flows != 1 {
		t.Fatalf("%d flows, %d records", len(sink.flows), len(sink.recs))
	}
	f := sink.flows[0]
	if f.ClientToServer.Bytes != sent[0] || f.ServerToClient.Bytes != sent[1] {
		t.Errorf("bytes %d/%d, sent %d/%d", f.ClientToServer.Bytes, f.ServerToClient.Bytes, sent[0], sent[1])
	}
	// Every data segment is at most 1460 bytes; the synthetic peer ACKs
	// every second one and the last of each turn.
	if d := f.ClientToServer.DataPackets; d != 5 {
		t.Errorf("client data packets %d, want 4 for the upload and 1 for the GET", d)
	}
	if f.ClientToServer.WireBytes <= f.ClientToServer.Bytes || f.ClientToServer.FIN != 1 || f.ServerToClient.FIN != 1 {
		t.Errorf("client to server %+v", f.ClientToServer)
	}
	if f.Client != (sdk.Endpoint{IP: "10.0.0.1", Port: 40000}) || f.Server != (sdk.Endpoint{IP: "10.0.1.1", Port: 8080}) {
		t.Errorf("client %v server %v", f.Client, f.Server)
	}
	for _, r := range sink.recs {
		if r.Stream != f.ID {
			t.Errorf("record stream %q, flow %q", r.Stream, f.ID)
		}
	}
	// Turn i is sent at i+1 ms: the first response came 1 ms after the
	// first request.
	if f.TimeToFirstByteMs == nil || *f.TimeToFirstByteMs != 1 || f.Records != 2 || f.Protocol != "http" {
		t.Errorf("ttfb %v records %d protocol %q", f.TimeToFirstByteMs, f.Records, f.Protocol)
	}
	if want := time.Second; f.End.Sub(f.Start) != want || f.DurationMs != 1000 {
		t.Errorf("%s..%s (%v ms), want %v", f.Start, f.End, f.DurationMs, want)
	}
}

func TestFlowsWithoutRecords(t *testing.T) {
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 5, 1, 14, 0, 0, 0, time.UTC)
	c := w.Conn(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.1.1:9999"), start)
	if err := c.Client([]byte("\x00\x01binary"), start.Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	dns, client := netip.MustParseAddrPort("10.0.0.53:53"), netip.MustParseAddrPort("10.0.0.1:50000")
	// The writer keeps capture time monotonic, so the datagrams come after
	// the TCP segments.
	if err := w.UDP(client, dns, []byte("query"), start.Add(10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := w.UDP(dns, client, []byte("answer!"), start.Add(13*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	sink, st := runFlows(t, buf.Bytes(), pipeline.Config{Workers: 1}, dissectortest.Builtin(t, "http1"))
	if len(sink.flows) != 2 || len(sink.recs) != 0 || st.Flows != 2 {
		t.Fatalf("%d flows, %d records, stats %d", len(sink.flows), len(sink.recs), st.Flows)
	}
	flowsByID(t, sink.flows)
	for _, f := range sink.flows {
		if f.Protocol != "" || f.Records != 0 || f.CloseReason != "flush" {
			t.Errorf("flow %+v", f)
		}
		switch f.Transport {
		case "tcp":
			if f.State != "open" || f.ClientToServer.Bytes != 8 || !f.HandshakeSeen || f.Complete {
				t.Errorf("tcp flow %+v", f)
			}
		case "udp":
			if f.State != "active" || f.Client.Port != 50000 || f.ClientToServer.Bytes != 5 || f.ServerToClient.Bytes != 7 ||
				f.TimeToFirstByteMs == nil || *f.TimeToFirstByteMs != 3 {
				t.Errorf("udp flow %+v", f)
			}
		default:
			t.Errorf("transport %q", f.Transport)
		}
	}
}

func TestFlowOrientedLikeItsRecords(t *testing.T) {
	// As in TestMidStreamCaptureIsOrientedByContent: the server is the
	// first sender seen, and only the dissector tells who the client is.
	pcap := dropFirstData(t, writeConv(t, []string{
		"GET /first HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"GET /second HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	}, false))
	sink, _ := runFlows(t, pcap, pipeline.Config{}, dissectortest.Builtin(t, "http1"))
	if len(sink.flows) != 1 || len(sink.recs) != 2 {
		t.Fatalf("%d flows, %d records", len(sink.flows), len(sink.recs))
	}
	f := sink.flows[0]
	if f.Client.Port != 40000 || f.Server.Port != 8080 {
		t.Errorf("client %v server %v", f.Client, f.Server)
	}
	if f.HandshakeSeen || f.HandshakeRTTMs != nil || f.State != "closed" {
		t.Errorf("handshake %v rtt %v state %q", f.HandshakeSeen, f.HandshakeRTTMs, f.State)
	}
	// The first request was dropped from the capture: the client sent one
	// request, the server two responses.
	if f.ClientToServer.DataPackets != 1 || f.ServerToClient.DataPackets != 2 {
		t.Errorf("client to server %+v, server to client %+v", f.ClientToServer, f.ServerToClient)
	}
	for _, r := range sink.recs {
		if r.Stream != f.ID || r.Src != f.Client {
			t.Errorf("record %s stream %q src %v, flow %q client %v", r.Summary, r.Stream, r.Src, f.ID, f.Client)
		}
	}
}

func TestFlowSinkOptional(t *testing.T) {
	pcap := writeConv(t, []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n"}, true)
	recs, st := run(t, pcap, pipeline.Config{}, dissectortest.Builtin(t, "http1"))
	if len(recs) != 1 || st.Flows != 0 {
		t.Fatalf("%d records, %d flows to a sink that stores none", len(recs), st.Flows)
	}
}

func TestFlowSinkError(t *testing.T) {
	pcap := writeConv(t, []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n"}, true)
	src, err := capture.NewSource("test.pcap", bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	boom := errors.New("disk full")
	sink := &flowSink{err: boom}
	_, err = pipeline.New(pipeline.Config{}, []engine.Dissector{dissectortest.Builtin(t, "http1")}, sink).Run(context.Background(), src)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "flows") {
		t.Fatalf("Run = %v, want the sink's error on flows", err)
	}
}

// Many connections on several workers with small batches: every flow
// arrives once, after its records, whatever the interleaving.
func TestFlowsBatched(t *testing.T) {
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 5, 1, 14, 0, 0, 0, time.UTC)
	const conns = 40
	for i := range conns {
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 40000)
		c := w.Conn(client, netip.MustParseAddrPort("10.0.1.1:80"), start.Add(time.Duration(i)*time.Millisecond))
		at := start.Add(time.Duration(i)*time.Millisecond + time.Microsecond)
		for j := range i % 3 {
			req := fmt.Sprintf("GET /%d/%d HTTP/1.1\r\nHost: x\r\n\r\n", i, j)
			if err := c.Client([]byte(req), at); err != nil {
				t.Fatal(err)
			}
			if err := c.Server([]byte("HTTP/1.1 204 No Content\r\n\r\n"), at); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Close(at); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	sink, st := runFlows(t, buf.Bytes(), pipeline.Config{Workers: 3, BatchSize: 2}, dissectortest.Builtin(t, "http1"))
	flows := flowsByID(t, sink.flows)
	// Connection i made i%3 requests: 39 in all.
	if len(flows) != conns || st.Records != 39 {
		t.Fatalf("%d flows, %d records", len(flows), st.Records)
	}
	total := 0
	for _, f := range flows {
		total += f.Records
	}
	if total != len(sink.recs) {
		t.Fatalf("flows count %d records, sink has %d", total, len(sink.recs))
	}
}
