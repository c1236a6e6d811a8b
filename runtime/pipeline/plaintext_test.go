package pipeline_test

import (
	"bytes"
	"context"
	"net/netip"
	"sort"
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

var (
	tlsClient = netip.MustParseAddrPort("10.0.0.1:40000")
	tlsServer = netip.MustParseAddrPort("10.0.0.2:8443")
)

// feed runs RunPlaintext over the chunks and returns what it stored.
func feed(t *testing.T, p *pipeline.Pipeline, sink *memSink, chunks []pipeline.Plaintext) pipeline.Stats {
	t.Helper()
	in := make(chan pipeline.Plaintext)
	done := make(chan struct{})
	var st pipeline.Stats
	var err error
	go func() {
		defer close(done)
		st, err = p.RunPlaintext(context.Background(), in)
	}()
	for _, c := range chunks {
		in <- c
	}
	close(in)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// exchange is two HTTP calls on one connection as seen by the process at
// local (owner), which sends when it is the client; the request comes in
// two pieces, as from two SSL_write calls.
func exchange(local, remote netip.AddrPort, owner uint32, isClient bool, t0 time.Time) []pipeline.Plaintext {
	chunk := func(ms int, fromClient bool, s string) pipeline.Plaintext {
		return pipeline.Plaintext{Time: t0.Add(time.Duration(ms) * time.Millisecond), Local: local, Remote: remote, Sent: fromClient == isClient, Data: []byte(s), Owner: owner}
	}
	return []pipeline.Plaintext{
		chunk(0, true, "GET /orders?id=7 HTTP/1.1\r\nHost: shop\r\n"),
		chunk(1, true, "\r\n"),
		chunk(5, false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
		chunk(10, true, "POST /pay HTTP/1.1\r\nHost: shop\r\nContent-Length: 3\r\n\r\nabc"),
		chunk(17, false, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"),
		{Time: t0.Add(20 * time.Millisecond), Local: local, Remote: remote, Closed: true, Owner: owner},
	}
}

// Plaintext from a TLS tracer becomes HTTP records with tls set, on the
// connection's real 5-tuple with the client as Src whichever end was
// traced; the other end's copy of the same connection is dropped.
func TestPlaintextRecords(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		chunks []pipeline.Plaintext
		dups   int64
	}{
		{"traced server", exchange(tlsServer, tlsClient, 100, false, t0), 0},
		{"traced client", exchange(tlsClient, tlsServer, 200, true, t0), 0},
		// Both ends local and traced: the client's chunks come first and
		// own the connection; the server's 5 data chunks are dropped (its
		// close comes after the client's ended the connection).
		{"both ends", interleave(exchange(tlsClient, tlsServer, 200, true, t0), exchange(tlsServer, tlsClient, 100, false, t0)), 5},
		// The server's copy arrives after the client closed (its calls
		// are reported when they return): still the same connection's
		// duplicate, not a new connection.
		{"server late", append(exchange(tlsClient, tlsServer, 200, true, t0), exchange(tlsServer, tlsClient, 100, false, t0)...), 5},
		// A v4-mapped address names the same connection.
		{"mapped", exchange(netip.AddrPortFrom(netip.AddrFrom16(tlsServer.Addr().As16()), tlsServer.Port()), tlsClient, 100, false, t0), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{}
			p := pipeline.New(pipeline.Config{Workers: 2}, []engine.Dissector{dissectortest.Builtin(t, "http1")}, sink)
			st := feed(t, p, sink, tc.chunks)
			if len(sink.recs) != 2 || st.Records != 2 || st.PlaintextDuplicates != tc.dups {
				t.Fatalf("%d records (stats %d), %d duplicates dropped, want 2 and %d: %v", len(sink.recs), st.Records, st.PlaintextDuplicates, tc.dups, summary(sink.recs))
			}
			want := []struct {
				method, path string
				status       int
			}{{"GET", "/orders?id=7", 200}, {"POST", "/pay", 503}}
			for i, r := range sortByTime(sink.recs) {
				if r.Protocol != "http" || r.Method != want[i].method || r.Path != want[i].path || r.Status != want[i].status {
					t.Errorf("record %d: %s %s %s %d, want http %s %s %d", i, r.Protocol, r.Method, r.Path, r.Status, want[i].method, want[i].path, want[i].status)
				}
				if !r.TLS {
					t.Errorf("record %d: tls not set", i)
				}
				if r.Src.String() != tlsClient.String() || r.Dst.String() != tlsServer.String() {
					t.Errorf("record %d: %s > %s, want %s > %s", i, r.Src, r.Dst, tlsClient, tlsServer)
				}
				if !strings.HasPrefix(r.Stream, "p") || r.Stream != sink.recs[0].Stream {
					t.Errorf("record %d: stream %q", i, r.Stream)
				}
			}
			if !p.CapturesPlaintext(tlsServer, tlsClient) || !p.CapturesPlaintext(tlsClient, tlsServer) {
				t.Error("the connection is not in the plaintext set")
			}
			if p.CapturesPlaintext(tlsClient, netip.MustParseAddrPort("10.0.0.2:443")) {
				t.Error("another connection is in the plaintext set")
			}
		})
	}
}

func interleave(a, b []pipeline.Plaintext) []pipeline.Plaintext {
	var out []pipeline.Plaintext
	for i := range a {
		out = append(out, a[i], b[i])
	}
	return out
}

// The packets of a connection whose plaintext the pipeline receives make
// no second record (here the packets are the same HTTP in clear, which
// would otherwise be recorded); another connection's packets still do.
func TestPlaintextSuppressesPacketRecords(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	other := netip.MustParseAddrPort("10.0.0.3:40001")
	for i, client := range []netip.AddrPort{tlsClient, other} {
		c := w.Conn(client, tlsServer, t0.Add(time.Duration(i)*time.Second))
		at := t0.Add(time.Duration(i)*time.Second + 10*time.Millisecond)
		if err := c.Client([]byte("GET /x HTTP/1.1\r\nHost: shop\r\n\r\n"), at); err != nil {
			t.Fatal(err)
		}
		if err := c.Server([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), at.Add(time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(at.Add(2 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	p := pipeline.New(pipeline.Config{Workers: 2}, []engine.Dissector{dissectortest.Builtin(t, "http1")}, sink)
	feed(t, p, sink, exchange(tlsClient, tlsServer, 200, true, t0))
	src, err := capture.NewSource("test.pcap", bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, err := p.Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 1 || st.PlaintextSuppressed != 1 {
		t.Fatalf("packet path: %d records, %d suppressed, want 1 and 1", st.Records, st.PlaintextSuppressed)
	}
	var plain, packets int
	for _, r := range sink.recs {
		if r.TLS {
			plain++
			continue
		}
		packets++
		if r.Src.String() != other.String() {
			t.Errorf("packet record from %s: the plaintext connection's packets were recorded", r.Src)
		}
	}
	if plain != 2 || packets != 1 {
		t.Fatalf("%d plaintext and %d packet records, want 2 and 1: %v", plain, packets, summary(sink.recs))
	}
}

func sortByTime(recs []*sdk.Record) []*sdk.Record {
	out := append([]*sdk.Record(nil), recs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Timestamp.Before(out[j].Timestamp) })
	return out
}
