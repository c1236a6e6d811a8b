// Package workload holds the byte workloads the built-in dissectors are
// benchmarked on, and the loop that feeds them through engine.Instance the
// way the pipeline's workers do, so that the wasm-vs-native benchmark
// (dissectors' BenchmarkWasmVsNative) and `make bench`
// (cmd/kubeshark-bench) measure the same thing. It sits beside the
// dissectors, outside the data flow: nothing in the product imports it.
package workload

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/http2/hpack"

	"github.com/kubeshark-wasm/kubeshark/dissectors/amqp"
	"github.com/kubeshark-wasm/kubeshark/dissectors/http2"
	"github.com/kubeshark-wasm/kubeshark/dissectors/kafka"
	"github.com/kubeshark-wasm/kubeshark/dissectors/mongodb"
	"github.com/kubeshark-wasm/kubeshark/dissectors/mqtt"
	"github.com/kubeshark-wasm/kubeshark/dissectors/mysql"
	"github.com/kubeshark-wasm/kubeshark/dissectors/postgres"
	"github.com/kubeshark-wasm/kubeshark/dissectors/redis"
	dtls "github.com/kubeshark-wasm/kubeshark/dissectors/tls"
	"github.com/kubeshark-wasm/kubeshark/dissectors/websocket"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// MaxFeed is the most a feed offers, the wasm runtime's default guest
// buffer; the native side gets the same limit so that both see the same
// calls.
const MaxFeed = 256 << 10

// Seg is one TCP segment or UDP datagram of a workload connection.
type Seg struct {
	Dir  sdk.Direction
	Data []byte
}

// Workload is what one dissector is timed on.
type Workload struct {
	Name    string        // dissectors/<name>, as dissectors.Builtin names the module
	What    string        // the traffic, for the table
	Native  sdk.Dissector // the Go source compiled natively; nil for a dissector written in C (http1, dns)
	UDP     bool
	Port    uint16 // the server's port, DirB's
	Conns   [][]Seg
	Records int // records the workload must produce
}

// Bytes is the workload's size: every segment's payload.
func (w *Workload) Bytes() int {
	n := 0
	for _, c := range w.Conns {
		for _, s := range c {
			n += len(s.Data)
		}
	}
	return n
}

// Counter is an engine.Sink that counts what it is given and keeps
// nothing, so that the store's cost stays out of the figures.
type Counter struct {
	Records, Switches int
	// Keep, when set, keeps every record in Kept (for comparisons, not
	// for timing).
	Keep bool
	Kept []*sdk.Record
	// EncodedFields lets an instance hand over records whose fields are
	// still encoded, as the pipeline does when it stores them
	// (engine.EncodedFieldsSink); false gives decoded Fields maps.
	EncodedFields bool
}

// TakesEncodedFields implements engine.EncodedFieldsSink.
func (c *Counter) TakesEncodedFields() bool { return c.EncodedFields }

// Record implements engine.Sink.
func (c *Counter) Record(_ uint64, r *sdk.Record) {
	c.Records++
	if c.Keep {
		c.Kept = append(c.Kept, r)
	}
}

// Switch implements engine.Sink.
func (c *Counter) Switch(uint64, string) { c.Switches++ }

// Feed plays w through inst the way the pipeline's worker does: a
// TCP direction's unconsumed bytes are kept and offered again with the next
// segment appended, at most MaxFeed at a time; a UDP datagram is offered
// once. Connections are numbered from firstID so that consecutive runs on
// one instance never reuse an ID. Anything the pipeline would count as a
// dissector error (a rejection, a protocol switch, bytes left unconsumed at
// the end) fails the run: the figures are only worth something if the
// whole workload was dissected.
func Feed(ctx context.Context, inst engine.Instance, sink *Counter, w *Workload, firstID uint64) error {
	var pend [2][]byte
	var head [2]int64
	ts := int64(1)
	for ci, segs := range w.Conns {
		id := firstID + uint64(ci)
		if err := inst.Open(ctx, sdk.ConnInfo{ID: id, PortA: 40000, PortB: w.Port, Oriented: true, UDP: w.UDP}); err != nil {
			return fmt.Errorf("open connection %d: %w", ci, err)
		}
		pend[0], pend[1] = pend[0][:0], pend[1][:0]
		for si, s := range segs {
			ts++
			if w.UDP {
				if _, _, err := inst.Feed(ctx, id, s.Dir, s.Data[:min(len(s.Data), MaxFeed)], ts, ts); err != nil {
					return fmt.Errorf("connection %d, datagram %d: %w", ci, si, err)
				}
				continue
			}
			// Offer the segment in place when nothing is pending, as the
			// pipeline's buffer does, so the host's copying stays out of
			// the comparison.
			data := s.Data
			if len(pend[s.Dir]) > 0 {
				pend[s.Dir] = append(pend[s.Dir], s.Data...)
				data = pend[s.Dir]
			} else {
				head[s.Dir] = ts
			}
			for len(data) > 0 {
				p := data[:min(len(data), MaxFeed)]
				n, _, err := inst.Feed(ctx, id, s.Dir, p, head[s.Dir], ts)
				switch {
				case err != nil:
					return fmt.Errorf("connection %d, segment %d: %w", ci, si, err)
				case n < 0:
					return fmt.Errorf("connection %d, segment %d: the dissector rejected the connection", ci, si)
				case sink.Switches > 0:
					return fmt.Errorf("connection %d, segment %d: the dissector switched protocols", ci, si)
				case n == 0 && len(p) == MaxFeed:
					return fmt.Errorf("connection %d, segment %d: no progress with a full buffer", ci, si)
				}
				if n == 0 {
					break
				}
				data = data[n:]
				head[s.Dir] = ts
			}
			pend[s.Dir] = append(pend[s.Dir][:0], data...)
		}
		for d, p := range pend {
			if len(p) > 0 {
				return fmt.Errorf("connection %d: %d bytes of direction %d were never consumed", ci, len(p), d)
			}
		}
		ts++
		if err := inst.Close(ctx, id, ts); err != nil {
			return fmt.Errorf("close connection %d: %w", ci, err)
		}
	}
	return nil
}

// MinRun is the shortest timed run: a native pass over a workload takes a
// few milliseconds, short enough for one GC cycle or scheduler hiccup to
// move the figure, so a run repeats the workload until it lasts this long.
const MinRun = 100 * time.Millisecond

// Time runs w through a fresh instance of d and returns the time of
// one pass over the workload, from the fastest of runs timed runs. An
// untimed warm-up pass comes first: it lets the guest's heap grow to its
// working size and sets how many passes make a run last MinRun. Every pass
// must emit w.Records records.
func Time(ctx context.Context, d engine.Dissector, w *Workload, runs int) (time.Duration, error) {
	// What a store-bound pipeline does: fields stay encoded.
	sink := &Counter{EncodedFields: true}
	inst, err := d.NewInstance(ctx, sink)
	if err != nil {
		return 0, fmt.Errorf("new instance: %w", err)
	}
	defer inst.Destroy(ctx)
	next := uint64(1)
	pass := func() (time.Duration, error) {
		before := sink.Records
		t0 := time.Now()
		err := Feed(ctx, inst, sink, w, next)
		el := time.Since(t0)
		next += uint64(len(w.Conns))
		if err != nil {
			return 0, err
		}
		if got := sink.Records - before; got != w.Records {
			return 0, fmt.Errorf("emitted %d records, the workload has %d", got, w.Records)
		}
		return el, nil
	}
	warm, err := pass()
	if err != nil {
		return 0, err
	}
	passes := max(1, int(MinRun/max(warm, time.Microsecond)))
	var best time.Duration
	for range runs {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var run time.Duration
		for range passes {
			el, err := pass()
			if err != nil {
				return 0, err
			}
			run += el
		}
		if per := run / time.Duration(passes); best == 0 || per < best {
			best = per
		}
	}
	return best, nil
}

// All builds the workloads of the twelve built-in dissectors.
func All() ([]Workload, error) {
	ch, err := realClientHello("api.example.com", []string{"h2", "http/1.1"})
	if err != nil {
		return nil, err
	}
	dw, err := dnsWorkload()
	if err != nil {
		return nil, err
	}
	return []Workload{
		http1Workload(), http2Workload(), websocketWorkload(), dw, tlsWorkload(ch),
		redisWorkload(), postgresWorkload(), mysqlWorkload(), kafkaWorkload(), amqpWorkload(),
		mongodbWorkload(), mqttWorkload(),
	}, nil
}

// exchanges is a single connection of n request/response pairs, one
// segment per message.
func exchanges(reqs, resps [][]byte) [][]Seg {
	c := make([]Seg, 0, 2*len(reqs))
	for i := range reqs {
		c = append(c, Seg{sdk.DirA, reqs[i]}, Seg{sdk.DirB, resps[i]})
	}
	return [][]Seg{c}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// jsonItems is a JSON body of k small objects, ~80 bytes each.
func jsonItems(k int) string {
	return `{"items":[` + strings.TrimSuffix(strings.Repeat(`{"id":12345,"name":"widget","price":9.99,"tags":["a","b"]},`, k), ",") + `]}`
}

func letters(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

const benchExchanges = 1000

func http1Workload() Workload {
	body := jsonItems(12)
	reqs := make([][]byte, benchExchanges)
	resps := make([][]byte, benchExchanges)
	for i := range benchExchanges {
		reqs[i] = fmt.Appendf(nil, "GET /api/v1/items/%d?expand=true HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: bench/1.0\r\nAccept: application/json\r\nAccept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n", i)
		resps[i] = fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nServer: bench\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
	return Workload{Name: "http1", What: "1000 keep-alive GET → 200 JSON (1 KiB)", Port: 80,
		Conns: exchanges(reqs, resps), Records: benchExchanges}
}

// h2Side encodes one endpoint's header blocks with its own HPACK state, so
// repeated fields become table references as on a real connection.
type h2Side struct {
	buf bytes.Buffer
	enc *hpack.Encoder
}

func newH2Side() *h2Side {
	s := &h2Side{}
	s.enc = hpack.NewEncoder(&s.buf)
	return s
}

func h2Frame(typ, flags uint8, stream uint32, payload []byte) []byte {
	b := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

func (s *h2Side) headers(stream uint32, end bool, kv ...string) []byte {
	s.buf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		s.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	flags := uint8(0x4) // END_HEADERS
	if end {
		flags |= 0x1 // END_STREAM
	}
	return h2Frame(0x1, flags, stream, bytes.Clone(s.buf.Bytes()))
}

func http2Workload() Workload {
	body := []byte(jsonItems(12))
	c, s := newH2Side(), newH2Side()
	reqs := make([][]byte, benchExchanges)
	resps := make([][]byte, benchExchanges)
	for i := range benchExchanges {
		id := uint32(2*i + 1)
		reqs[i] = c.headers(id, true, ":method", "GET", ":scheme", "http", ":path", fmt.Sprintf("/api/v1/items/%d?expand=true", i),
			":authority", "api.example.com", "user-agent", "bench/1.0", "accept", "application/json")
		resps[i] = cat(s.headers(id, false, ":status", "200", "content-type", "application/json", "server", "bench",
			"content-length", fmt.Sprint(len(body))), h2Frame(0x0, 0x1, id, body))
	}
	reqs[0] = cat([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), reqs[0])
	return Workload{Name: "http2", What: "1000 streams GET → 200 JSON (1 KiB), HPACK", Native: http2.New(), Port: 8080,
		Conns: exchanges(reqs, resps), Records: benchExchanges}
}

func wsFrame(masked bool, payload []byte) []byte {
	out := []byte{0x80 | 0x1} // FIN, text
	var mb byte
	if masked {
		mb = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mb|byte(n))
	case n < 1<<16:
		out = append(out, mb|126, byte(n>>8), byte(n))
	default:
		out = append(out, mb|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	p := bytes.Clone(payload)
	if masked {
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		out = append(out, key[:]...)
		for i := range p {
			p[i] ^= key[i&3]
		}
	}
	return append(out, p...)
}

func websocketWorkload() Workload {
	text := letters(1024)
	cf, sf := wsFrame(true, text), wsFrame(false, text)
	reqs := make([][]byte, benchExchanges)
	resps := make([][]byte, benchExchanges)
	for i := range benchExchanges {
		reqs[i], resps[i] = cf, sf
	}
	return Workload{Name: "websocket", What: "1000 masked 1 KiB text messages + 1000 replies", Native: websocket.New(), Port: 80,
		Conns: exchanges(reqs, resps), Records: 2 * benchExchanges}
}

// dnsMessage packs an A query, or its response with one answer per address.
func dnsMessage(id uint16, name string, addrs ...string) ([]byte, error) {
	resp := len(addrs) > 0
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: resp, RecursionDesired: true, RecursionAvailable: resp})
	b.EnableCompression()
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, fmt.Errorf("dns name %q: %w", name, err)
	}
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}); err != nil {
		return nil, fmt.Errorf("dns question %q: %w", name, err)
	}
	if resp {
		if err := b.StartAnswers(); err != nil {
			return nil, err
		}
		for _, a := range addrs {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return nil, fmt.Errorf("dns answer for %q: %w", name, err)
			}
			h := dnsmessage.ResourceHeader{Name: n, Class: dnsmessage.ClassINET, TTL: 300}
			if err := b.AResource(h, dnsmessage.AResource{A: ip.As4()}); err != nil {
				return nil, fmt.Errorf("dns answer %s for %q: %w", a, name, err)
			}
		}
	} else {
		if err := b.StartAdditionals(); err != nil {
			return nil, err
		}
		var rh dnsmessage.ResourceHeader
		if err := rh.SetEDNS0(1232, 0, true); err != nil {
			return nil, err
		}
		if err := b.OPTResource(rh, dnsmessage.OPTResource{}); err != nil {
			return nil, fmt.Errorf("dns OPT record: %w", err)
		}
	}
	return b.Finish()
}

func dnsWorkload() (Workload, error) {
	qs := make([][]byte, benchExchanges)
	rs := make([][]byte, benchExchanges)
	for i := range benchExchanges {
		name := fmt.Sprintf("host-%d.svc.cluster.local.", i)
		var err error
		if qs[i], err = dnsMessage(uint16(i), name); err != nil {
			return Workload{}, err
		}
		if rs[i], err = dnsMessage(uint16(i), name, "10.0.0.1", "10.0.0.2"); err != nil {
			return Workload{}, err
		}
	}
	return Workload{Name: "dns", What: "1000 UDP A queries → 2 answers", UDP: true, Port: 53,
		Conns: exchanges(qs, rs), Records: benchExchanges}, nil
}

// realClientHello is the first record crypto/tls sends, captured over a
// pipe: a real client's extensions, key share and padding.
func realClientHello(sni string, alpn []string) ([]byte, error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: sni, NextProtos: alpn, InsecureSkipVerify: true,
			CurvePreferences: []tls.CurveID{tls.X25519}})
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Handshake()
	}()
	b.SetDeadline(time.Now().Add(2 * time.Second))
	head := make([]byte, 5)
	if _, err := io.ReadFull(b, head); err != nil {
		return nil, fmt.Errorf("capturing a crypto/tls ClientHello: %w", err)
	}
	body := make([]byte, int(head[3])<<8|int(head[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		return nil, fmt.Errorf("capturing a crypto/tls ClientHello: %w", err)
	}
	return append(head, body...), nil
}

func tlsRecord(typ byte, payload []byte) []byte {
	return append([]byte{typ, 3, 3, byte(len(payload) >> 8), byte(len(payload))}, payload...)
}

// tlsServerHello is a TLS 1.3 ServerHello choosing TLS_AES_128_GCM_SHA256
// and ALPN h2.
func tlsServerHello() []byte {
	exts := []byte{0, 43, 0, 2, 3, 4} // supported_versions: TLS 1.3
	exts = append(exts, 0, 16, 0, 5, 0, 3, 2, 'h', '2')
	body := append([]byte{3, 3}, make([]byte, 32)...)
	body = append(body, 0, 0x13, 0x01, 0)
	body = append(body, byte(len(exts)>>8), byte(len(exts)))
	body = append(body, exts...)
	return tlsRecord(22, append([]byte{2, 0, byte(len(body) >> 8), byte(len(body))}, body...))
}

func tlsWorkload(ch []byte) Workload {
	const conns = 1000
	sh := tlsServerHello()
	appdata := tlsRecord(23, make([]byte, 16<<10))
	w := Workload{Name: "tls", What: "1000 connections: crypto/tls ClientHello, TLS 1.3 ServerHello, 16 KiB app data each way",
		Native: dtls.New(), Port: 443, Records: conns}
	for range conns {
		w.Conns = append(w.Conns, []Seg{{sdk.DirA, ch}, {sdk.DirB, sh}, {sdk.DirA, appdata}, {sdk.DirB, appdata}})
	}
	return w
}

func redisWorkload() Workload {
	val := letters(1024)
	reqs := make([][]byte, benchExchanges)
	resps := make([][]byte, benchExchanges)
	for i := range benchExchanges {
		key := fmt.Sprintf("user:session:%08d", i)
		if i%2 == 0 {
			reqs[i] = fmt.Appendf(nil, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(val), val)
			resps[i] = []byte("+OK\r\n")
		} else {
			reqs[i] = fmt.Appendf(nil, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
			resps[i] = fmt.Appendf(nil, "$%d\r\n%s\r\n", len(val), val)
		}
	}
	return Workload{Name: "redis", What: "1000 SET/GET of 1 KiB values", Native: redis.New(), Port: 6379,
		Conns: exchanges(reqs, resps), Records: benchExchanges}
}

// pgMsg is a backend or frontend message after startup.
func pgMsg(t byte, body ...[]byte) []byte {
	b := cat(body...)
	return append(binary.BigEndian.AppendUint32([]byte{t}, uint32(len(b)+4)), b...)
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func postgresWorkload() Workload {
	rowDesc := binary.BigEndian.AppendUint16(nil, 3)
	for _, c := range []string{"id", "name", "price"} {
		rowDesc = append(append(rowDesc, cstr(c)...), make([]byte, 18)...)
	}
	reqs := make([][]byte, benchExchanges)
	resps := make([][]byte, benchExchanges)
	for i := range benchExchanges {
		reqs[i] = pgMsg('Q', cstr(fmt.Sprintf("SELECT id, name, price FROM items WHERE category = %d ORDER BY id LIMIT 10", i)))
		r := pgMsg('T', rowDesc)
		for j := range 10 {
			row := binary.BigEndian.AppendUint16(nil, 3)
			for _, v := range []string{fmt.Sprint(j), "widget", "9.99"} {
				row = append(binary.BigEndian.AppendUint32(row, uint32(len(v))), v...)
			}
			r = append(r, pgMsg('D', row)...)
		}
		resps[i] = cat(r, pgMsg('C', cstr("SELECT 10")), pgMsg('Z', []byte("I")))
	}
	return Workload{Name: "postgres", What: "1000 simple queries → 10-row results", Native: postgres.New(), Port: 5432,
		Conns: exchanges(reqs, resps), Records: benchExchanges}
}

func mysqlPkt(seq byte, payload ...[]byte) []byte {
	p := cat(payload...)
	n := len(p)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, p...)
}

func lstr(s string) []byte { return append([]byte{byte(len(s))}, s...) }

func mysqlWorkload() Workload {
	colDef := func(seq byte, name string) []byte {
		return mysqlPkt(seq, lstr("def"), lstr("db"), lstr("t"), lstr("t"), lstr(name), lstr(name), []byte{0x0c, 33, 0, 0xff, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0})
	}
	eof := func(seq byte) []byte { return mysqlPkt(seq, []byte{0xfe, 0, 0, 2, 0}) }
	reqs := make([][]byte, benchExchanges)
	resps := make([][]byte, benchExchanges)
	for i := range benchExchanges {
		reqs[i] = mysqlPkt(0, []byte{0x03}, fmt.Appendf(nil, "SELECT id, name, price FROM items WHERE category = %d ORDER BY id LIMIT 10", i))
		r := cat(mysqlPkt(1, []byte{3}), colDef(2, "id"), colDef(3, "name"), colDef(4, "price"), eof(5))
		for j := range 10 {
			r = append(r, mysqlPkt(byte(6+j), lstr(fmt.Sprint(j)), lstr("widget"), lstr("9.99"))...)
		}
		resps[i] = append(r, eof(16)...)
	}
	return Workload{Name: "mysql", What: "1000 COM_QUERY → 10-row result sets", Native: mysql.New(), Port: 3306,
		Conns: exchanges(reqs, resps), Records: benchExchanges}
}

// kafkaEnc writes the flexible (compact) encoding of Produce v9.
type kafkaEnc struct{ b []byte }

func (e *kafkaEnc) i16(v int16) *kafkaEnc {
	e.b = binary.BigEndian.AppendUint16(e.b, uint16(v))
	return e
}
func (e *kafkaEnc) i32(v int32) *kafkaEnc {
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(v))
	return e
}
func (e *kafkaEnc) i64(v int64) *kafkaEnc {
	e.b = binary.BigEndian.AppendUint64(e.b, uint64(v))
	return e
}
func (e *kafkaEnc) uv(v int) *kafkaEnc  { e.b = binary.AppendUvarint(e.b, uint64(v)); return e }
func (e *kafkaEnc) tags() *kafkaEnc     { return e.uv(0) }
func (e *kafkaEnc) arr(n int) *kafkaEnc { return e.uv(n + 1) }
func (e *kafkaEnc) str(s string) *kafkaEnc {
	e.uv(len(s) + 1)
	e.b = append(e.b, s...)
	return e
}
func (e *kafkaEnc) bytes(p []byte) *kafkaEnc {
	e.uv(len(p) + 1)
	e.b = append(e.b, p...)
	return e
}
func (e *kafkaEnc) frame() []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(e.b))), e.b...)
}

func kafkaWorkload() Workload {
	batch := make([]byte, 1024)
	reqs := make([][]byte, benchExchanges)
	resps := make([][]byte, benchExchanges)
	for i := range benchExchanges {
		// Request header v2: the client ID stays a classic nullable string.
		e := (&kafkaEnc{}).i16(0).i16(9).i32(int32(i)).i16(int16(len("bench-producer")))
		e.b = append(e.b, "bench-producer"...)
		e.tags()
		e.str("").i16(-1).i32(30000).arr(1).str("bench-topic").arr(1).i32(0).bytes(batch).tags().tags()
		reqs[i] = e.tags().frame()
		r := (&kafkaEnc{}).i32(int32(i)).tags()
		r.arr(1).str("bench-topic").arr(1).i32(0).i16(0).i64(10).i64(-1).i64(0).arr(0).str("").tags().tags()
		resps[i] = r.i32(0).tags().frame()
	}
	return Workload{Name: "kafka", What: "1000 Produce v9 with a 1 KiB record batch", Native: kafka.New(), Port: 9092,
		Conns: exchanges(reqs, resps), Records: benchExchanges}
}

// amqpEnc writes AMQP 0-9-1 method and property fields.
type amqpEnc struct{ b []byte }

func (e *amqpEnc) u8(v uint8) *amqpEnc   { e.b = append(e.b, v); return e }
func (e *amqpEnc) u16(v uint16) *amqpEnc { e.b = binary.BigEndian.AppendUint16(e.b, v); return e }
func (e *amqpEnc) u32(v uint32) *amqpEnc { e.b = binary.BigEndian.AppendUint32(e.b, v); return e }
func (e *amqpEnc) u64(v uint64) *amqpEnc { e.b = binary.BigEndian.AppendUint64(e.b, v); return e }
func (e *amqpEnc) short(s string) *amqpEnc {
	e.u8(uint8(len(s)))
	e.b = append(e.b, s...)
	return e
}

func amqpFrame(typ byte, ch uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16([]byte{typ}, ch)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(append(b, payload...), 0xCE)
}

func amqpMethod(ch, cls, id uint16, args func(e *amqpEnc)) []byte {
	e := (&amqpEnc{}).u16(cls).u16(id)
	args(e)
	return amqpFrame(1, ch, e.b)
}

// amqpContent is a content header with content-type, a headers table and
// delivery-mode, and the body split over two body frames.
func amqpContent(ch uint16, body string) []byte {
	inner := (&amqpEnc{}).short("b").u8('t').u8(1)
	t := (&amqpEnc{}).short("x-custom").u8('S').u32(1).u8('v')
	t.short("n").u8('I').u32(7)
	t.short("nested").u8('F').u32(uint32(len(inner.b)))
	t.b = append(t.b, inner.b...)
	h := (&amqpEnc{}).u16(60).u16(0).u64(uint64(len(body))).u16(1<<15 | 1<<13 | 1<<12)
	h.short("application/json").u32(uint32(len(t.b)))
	h.b = append(h.b, t.b...)
	h.u8(2)
	half := len(body) / 2
	return cat(amqpFrame(2, ch, h.b), amqpFrame(3, ch, []byte(body[:half])), amqpFrame(3, ch, []byte(body[half:])))
}

func amqpWorkload() Workload {
	body := jsonItems(17)
	content := amqpContent(1, body)
	pub := cat(amqpMethod(1, 60, 40, func(e *amqpEnc) { e.u16(0).short("orders").short("order.created").u8(0) }), content)
	del := cat(amqpMethod(1, 60, 60, func(e *amqpEnc) { e.short("ctag").u64(1).u8(0).short("orders").short("order.created") }), content)
	reqs := make([][]byte, benchExchanges)
	resps := make([][]byte, benchExchanges)
	for i := range benchExchanges {
		reqs[i], resps[i] = pub, del
	}
	return Workload{Name: "amqp", What: "1000 Basic.Publish + 1000 Basic.Deliver, 1.4 KiB JSON", Native: amqp.New(), Port: 5672,
		Conns: exchanges(reqs, resps), Records: 2 * benchExchanges}
}

// bsonKV is one BSON element; values are string, int32, int64, float64,
// []bsonKV (a document) or []any (an array).
type bsonKV struct {
	k string
	v any
}

func bsonDoc(elems ...bsonKV) []byte {
	var b []byte
	for _, e := range elems {
		name := func(t byte) { b = append(append(append(b, t), e.k...), 0) }
		switch x := e.v.(type) {
		case string:
			name(0x02)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(x)+1))
			b = append(append(b, x...), 0)
		case int32:
			name(0x10)
			b = binary.LittleEndian.AppendUint32(b, uint32(x))
		case int64:
			name(0x12)
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		case float64:
			name(0x01)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		case []bsonKV:
			name(0x03)
			b = append(b, bsonDoc(x...)...)
		case []any:
			name(0x04)
			var elems []bsonKV
			for i, y := range x {
				elems = append(elems, bsonKV{fmt.Sprint(i), y})
			}
			b = append(b, bsonDoc(elems...)...)
		}
	}
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(b)+5))
	return append(append(out, b...), 0)
}

// opMsg is an OP_MSG (2013) with a single body section.
func opMsg(reqID, respTo int32, doc []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(16+5+len(doc)))
	b = binary.LittleEndian.AppendUint32(b, uint32(reqID))
	b = binary.LittleEndian.AppendUint32(b, uint32(respTo))
	b = binary.LittleEndian.AppendUint32(b, 2013)
	b = binary.LittleEndian.AppendUint32(b, 0) // flags
	return append(append(b, 0), doc...)
}

func mongodbWorkload() Workload {
	var batch []any
	for i := range 10 {
		batch = append(batch, []bsonKV{{"_id", int32(i)}, {"name", "widget"}, {"price", 9.99}, {"tags", []any{"a", "b"}}})
	}
	reqs := make([][]byte, benchExchanges)
	resps := make([][]byte, benchExchanges)
	for i := range benchExchanges {
		reqs[i] = opMsg(int32(i+1), 0, bsonDoc(bsonKV{"find", "items"}, bsonKV{"filter", []bsonKV{{"price", []bsonKV{{"$gt", 5.0}}}}},
			bsonKV{"limit", int32(10)}, bsonKV{"$db", "shop"}))
		resps[i] = opMsg(int32(benchExchanges+i+1), int32(i+1), bsonDoc(bsonKV{"cursor", []bsonKV{{"firstBatch", batch}, {"id", int64(0)}, {"ns", "shop.items"}}},
			bsonKV{"ok", 1.0}))
	}
	return Workload{Name: "mongodb", What: "1000 OP_MSG find → 10-document batch", Native: mongodb.New(), Port: 27017,
		Conns: exchanges(reqs, resps), Records: benchExchanges}
}

func mqttWorkload() Workload {
	payload := letters(512)
	topic := "sensors/building-7/floor-3/temperature"
	reqs := make([][]byte, benchExchanges)
	acks := make([][]byte, benchExchanges)
	for i := range benchExchanges {
		rem := 2 + len(topic) + 2 + len(payload)
		p := []byte{0x32, byte(rem&0x7f | 0x80), byte(rem >> 7)} // PUBLISH, QoS 1
		p = binary.BigEndian.AppendUint16(p, uint16(len(topic)))
		p = append(p, topic...)
		p = binary.BigEndian.AppendUint16(p, uint16(i+1))
		reqs[i] = append(p, payload...)
		acks[i] = []byte{0x40, 0x02, byte((i + 1) >> 8), byte(i + 1)}
	}
	return Workload{Name: "mqtt", What: "1000 QoS 1 PUBLISH (512 B) → PUBACK", Native: mqtt.New(), Port: 1883,
		Conns: exchanges(reqs, acks), Records: benchExchanges}
}
