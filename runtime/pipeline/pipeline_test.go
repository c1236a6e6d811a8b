package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/dissectors/http1"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type memSink struct {
	mu   sync.Mutex
	recs []*sdk.Record
}

func (m *memSink) Put(_ context.Context, recs []*sdk.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, recs...)
	return nil
}

func run(t *testing.T, pcap []byte, cfg pipeline.Config, ds ...engine.Dissector) ([]*sdk.Record, pipeline.Stats) {
	t.Helper()
	src, err := capture.NewSource("test.pcap", bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink := &memSink{}
	st, err := pipeline.New(cfg, ds, sink).Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return sink.recs, st
}

func wasmHTTP(t *testing.T) engine.Dissector {
	t.Helper()
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	m, err := rt.Load(ctx, "built-in", dissectortest.Wasm(t, "http1"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// summary renders records in a form that does not depend on the order in
// which workers finished.
func summary(recs []*sdk.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%s %s %s %s %d %s>%s", r.Timestamp.Format(time.RFC3339Nano), r.Protocol, r.Method, r.Path, r.Status, r.Src, r.Dst))
	}
	sort.Strings(out)
	return out
}

func TestRealHTTPTrafficWasmMatchesNativeAndGenerator(t *testing.T) {
	var buf bytes.Buffer
	want, err := synth.HTTPSample(context.Background(), &buf, 300)
	if err != nil {
		t.Fatal(err)
	}
	wasmRecs, st := run(t, buf.Bytes(), pipeline.Config{Workers: 2}, wasmHTTP(t))
	nativeRecs, _ := run(t, buf.Bytes(), pipeline.Config{Workers: 1}, dissectortest.Builtin(t, "http1"))

	if len(wasmRecs) != want.Requests {
		t.Fatalf("wasm pipeline: %d records, generator made %d requests", len(wasmRecs), want.Requests)
	}
	statuses := map[int]int{}
	for _, r := range wasmRecs {
		statuses[r.Status]++
		if r.ElapsedMs == nil || *r.ElapsedMs < 0 {
			t.Errorf("%s: elapsed %v", r.Summary, r.ElapsedMs)
		}
		if !netip.MustParseAddr(r.Src.IP).IsPrivate() || r.Dst.Port != 80 {
			t.Errorf("%s: src %s dst %s: client and server swapped?", r.Summary, r.Src, r.Dst)
		}
		if r.ID != "" {
			t.Errorf("id %q set without Config.NewID", r.ID)
		}
		if r.Dissector != "http@"+http1.Version || r.Stream == "" {
			t.Errorf("host fields: dissector %q stream %q", r.Dissector, r.Stream)
		}
	}
	for code, n := range want.Statuses {
		if statuses[code] != n {
			t.Errorf("status %d: %d records, generator sent %d", code, statuses[code], n)
		}
	}
	if st.TCPStreams != int64(want.Conns) || st.Records != int64(want.Requests) || st.DissectorErrors != 0 {
		t.Errorf("stats %+v, generator %+v", st, want)
	}
	a, b := summary(wasmRecs), summary(nativeRecs)
	if len(a) != len(b) {
		t.Fatalf("wasm %d records, native %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("wasm and native differ:\n%s\n%s", a[i], b[i])
		}
	}
}

func TestIDsAreDeterministic(t *testing.T) {
	var buf bytes.Buffer
	if _, err := synth.HTTPSample(context.Background(), &buf, 50); err != nil {
		t.Fatal(err)
	}
	newID := func(ts time.Time, u uint64) string { return fmt.Sprintf("%d-%x", ts.UnixNano(), u) }
	d := dissectortest.Builtin(t, "http1")
	ids := func(workers int) map[string]bool {
		recs, _ := run(t, buf.Bytes(), pipeline.Config{Workers: workers, NewID: newID}, d)
		m := map[string]bool{}
		for _, r := range recs {
			if m[r.ID] {
				t.Fatalf("duplicate id %s", r.ID)
			}
			m[r.ID] = true
		}
		return m
	}
	a, b := ids(1), ids(2)
	if len(a) != 50 || len(a) != len(b) {
		t.Fatalf("ids: %d and %d", len(a), len(b))
	}
	for id := range a {
		if !b[id] {
			t.Fatalf("id %s not reproduced by a second run", id)
		}
	}
}

// writeConv writes one TCP conversation; with handshake=false the SYN
// exchange is left out, as when a capture starts mid-connection.
func writeConv(t *testing.T, turns []string, handshake bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := synth.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 5, 1, 14, 0, 0, 0, time.UTC)
	c := w.Conn(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.1.1:8080"), start)
	for i, s := range turns {
		at := start.Add(time.Duration(i+1) * time.Millisecond)
		if i%2 == 0 {
			err = c.Client([]byte(s), at)
		} else {
			err = c.Server([]byte(s), at)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(start.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if handshake {
		return buf.Bytes()
	}
	return dropHandshake(t, buf.Bytes())
}

func TestUpgradeHandsTheStreamBack(t *testing.T) {
	pcap := writeConv(t, []string{
		"GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
		"\x81\x05Hello",
		"GET /not-http-any-more HTTP/1.1\r\n\r\n",
	}, true)
	recs, st := run(t, pcap, pipeline.Config{}, dissectortest.Builtin(t, "http1"))
	if len(recs) != 1 || recs[0].Status != 101 || recs[0].Path != "/chat" {
		t.Fatalf("records after an upgrade: %v", summary(recs))
	}
	if st.DissectorErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTimestampsAndElapsed(t *testing.T) {
	pcap := writeConv(t, []string{
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	}, true)
	recs, _ := run(t, pcap, pipeline.Config{}, dissectortest.Builtin(t, "http1"))
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	want := time.Date(2024, 5, 1, 14, 0, 0, int(time.Millisecond), time.UTC)
	if !r.Timestamp.Equal(want) || r.ElapsedMs == nil || *r.ElapsedMs != 1 {
		t.Fatalf("timestamp %s elapsed %v, want %s and 1 ms", r.Timestamp, r.ElapsedMs, want)
	}
}

func TestMidStreamCaptureIsOrientedByContent(t *testing.T) {
	// Without the handshake the first packet seen is the server's response,
	// so the reassembler's first sender is the server. The record must
	// still name the client as src.
	pcap := writeConv(t, []string{
		"GET /first HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"GET /second HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	}, false)
	pcap = dropFirstData(t, pcap)
	recs, _ := run(t, pcap, pipeline.Config{}, dissectortest.Builtin(t, "http1"))
	if len(recs) != 2 {
		t.Fatalf("records: %v", summary(recs))
	}
	for _, r := range recs {
		if r.Src.Port != 40000 || r.Dst.Port != 8080 {
			t.Errorf("%s: src %s dst %s", r.Summary, r.Src, r.Dst)
		}
	}
	if recs[0].Method != "" || recs[0].Status != 204 || recs[1].Path != "/second" {
		t.Errorf("records: %v", summary(recs))
	}
}

func TestUnknownProtocolIsCountedNotDissected(t *testing.T) {
	pcap := writeConv(t, []string{"\x00\x01\x02binary hello\xff", "\xfe\xfdreply"}, true)
	recs, st := run(t, pcap, pipeline.Config{}, dissectortest.Builtin(t, "http1"))
	if len(recs) != 0 || st.Undetected != 1 || st.TCPStreams != 1 {
		t.Fatalf("records %v stats %+v", summary(recs), st)
	}
}

// A dissector error says which dissector, which connection and what went
// wrong, not only how many (issue 15, item 12).
func TestDissectorErrorsAreDescribed(t *testing.T) {
	pcap := writeConv(t, []string{
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
	}, true)
	recs, st := run(t, pcap, pipeline.Config{}, dissectortest.Builtin(t, "http1"))
	if st.DissectorErrors == 0 {
		t.Fatalf("a malformed chunked request without a response raised no dissector error (records %v)", summary(recs))
	}
	var n int64
	for _, d := range st.ErrorsByDissector {
		n += d.Count
	}
	d := st.ErrorsByDissector["http"]
	if n != st.DissectorErrors || d == nil || len(d.Examples) == 0 {
		t.Fatalf("%d dissector errors, broken down as %+v", st.DissectorErrors, st.ErrorsByDissector)
	}
	e := d.Examples[0]
	if e.Kind == "" || e.Error == "" || e.Conn != "tcp 10.0.0.1:40000 ↔ 10.0.1.1:8080" || e.Stream == "" || e.Time.IsZero() {
		t.Fatalf("example without its connection or error: %+v", e)
	}
	if e.Kind == "malformed" {
		found := false
		for _, r := range recs {
			found = found || r.ID == e.Record && r.Stream == e.Stream && r.Error == e.Error
		}
		if !found {
			t.Fatalf("example names record %s, which is not the malformed record emitted: %v", e.Record, summary(recs))
		}
	}
}

func TestDissectorErrorExamplesAreBounded(t *testing.T) {
	d := &pipeline.DissectorErrors{}
	for i := 0; i < 3*pipeline.MaxErrorExamples; i++ {
		d.Merge(&pipeline.DissectorErrors{Count: 1, Examples: []pipeline.DissectorError{{Kind: "fault", Error: fmt.Sprint(i)}}})
	}
	if d.Count != 3*pipeline.MaxErrorExamples || len(d.Examples) != pipeline.MaxErrorExamples || d.Examples[0].Error != "0" {
		t.Fatalf("%+v", d)
	}
}

// Stats marshal with snake_case names throughout, nested counters
// included (issue 15, item 11).
func TestStatsJSONIsSnakeCase(t *testing.T) {
	_, st := run(t, writeConv(t, []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}, true),
		pipeline.Config{}, dissectortest.Builtin(t, "http1"))
	st.ErrorsByDissector = map[string]*pipeline.DissectorErrors{"http": {Count: 1, Examples: []pipeline.DissectorError{{Kind: "fault", Error: "x"}}}}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	json.Unmarshal(b, &v)
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !snake.MatchString(k) {
					t.Errorf("%s.%s is not snake_case", path, k)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range v {
				walk(path+"[]", e)
			}
		}
	}
	walk("stats", v)
	for _, want := range []string{`"decode":{"packets":`, `"non_ip":`, `"gap_bytes":`, `"dissector_errors_by_dissector":{"http":{"count":1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("stats JSON lacks %s:\n%s", want, b)
		}
	}
}

// encodedSink is a memSink that takes records with encoded fields, as the
// store does.
type encodedSink struct{ memSink }

func (*encodedSink) TakesEncodedFields() bool { return true }

// A sink that takes encoded fields gets them as the guest wrote them; any
// other gets the same fields decoded.
func TestEncodedFieldsOnlyForSinksThatTakeThem(t *testing.T) {
	var buf bytes.Buffer
	if _, err := synth.HTTPSample(context.Background(), &buf, 50); err != nil {
		t.Fatal(err)
	}
	decoded, _ := run(t, buf.Bytes(), pipeline.Config{Workers: 1}, wasmHTTP(t))
	src, err := capture.NewSource("test.pcap", bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink := &encodedSink{}
	if _, err := pipeline.New(pipeline.Config{Workers: 1}, []engine.Dissector{wasmHTTP(t)}, sink).Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if len(sink.recs) != len(decoded) || len(decoded) == 0 {
		t.Fatalf("%d records with encoded fields, %d decoded", len(sink.recs), len(decoded))
	}
	// Compared as sorted lines (connection, summary, fields): the two
	// runs need not stamp or order their records alike.
	line := func(r *sdk.Record) string {
		return fmt.Sprint(r.Src, " ", r.Dst, " ", r.Summary, " ", r.Request.Fields, " ", r.Response.Fields)
	}
	var want, got []string
	for _, r := range decoded {
		if _, ok := r.Request.EncodedFields(); ok {
			t.Fatalf("%s: a plain sink got encoded fields", r.Summary)
		}
		if r.Request.Fields["version"] == nil {
			t.Fatalf("%s: request fields %v, want a version", r.Summary, r.Request.Fields)
		}
		want = append(want, line(r))
	}
	for _, r := range sink.recs {
		js, ok := r.Request.EncodedFields()
		if !ok || r.Request.Fields != nil {
			t.Fatalf("%s: encoded %q (%v), decoded %v", r.Summary, js, ok, r.Request.Fields)
		}
		if err := r.DecodeFields(); err != nil {
			t.Fatal(err)
		}
		got = append(got, line(r))
	}
	slices.Sort(want)
	slices.Sort(got)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d in order: with encoded fields, once decoded\n%s\nplain sink\n%s", i, got[i], want[i])
		}
	}
}
