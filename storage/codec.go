package storage

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Value encoding. Records are stored in a compact binary form owned by this
// package: varints and length-prefixed strings, the fields filters look at
// first (the "head"), the two messages after them. A scan decodes the head,
// tests the filter, and decodes the messages only for records that match.
// Fields maps are embedded as JSON because they are open-ended; decoding
// converts the value to one string and slices every field out of it, so a
// record costs a handful of allocations rather than one per field.
//
// sdk.AppendRecord was not reused: it leaves out the fields the host fills
// (endpoints, stream, elapsed), puts the messages before nothing a filter
// can skip to, and its decoder allocates per header.
//
// Binary was chosen over JSON by measurement (bench_test.go, ~1 KiB HTTP
// records, 2-core AMD EPYC shared with other jobs, so absolute figures are
// noisy; the ratios held across runs):
//
//	BenchmarkCodec (encode+decode)   binary  ~6 µs, 614 B, 51 allocs
//	                                 json   ~60 µs, 956 B, 199 allocs
//	BenchmarkPutGet (Put 1000, Get each)  binary ~32k records/s
//	                                      json   ~12.7k records/s
//
// JSON would also lose header order, End and RequestDir.
const valueVersion = 1

// valueCodec turns a record (without bodies) into a stored value and back.
// It is a field of Store rather than a constant so the benchmark can compare
// encodings through the real Put and Get paths.
type valueCodec struct {
	name   string
	encode func(b []byte, r *sdk.Record) []byte
	decode func(b []byte) (*sdk.Record, error)
	// head, when set, decodes only the fields filters read and returns a
	// function that completes the record.
	head func(b []byte) (*sdk.Record, func(sizesOnly bool) error, error)
}

var wireCodec = valueCodec{name: "binary", encode: appendValue, decode: decodeValue, head: decodeHead}

const (
	flagElapsed = 1 << iota
	flagFailed
	flagRequest
	flagResponse
	// flagTLS: the record came from captured TLS plaintext (sdk.Record.TLS);
	// values written before it existed have the bit clear.
	flagTLS
	// flagProcess: the endpoints' processes (sdk.Endpoint.Process, live
	// capture) follow the dissector name.
	flagProcess
	// flagK8s: the endpoints' Kubernetes context (sdk.Endpoint.K8s)
	// follows the processes. Stored records never carry it (names are
	// given when records are read); records a worker streams to a cluster
	// hub do, since the worker resolved them against its own history.
	flagK8s
)

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendEndpoint(b []byte, e *sdk.Endpoint) []byte {
	b = appendStr(b, e.IP)
	b = binary.AppendUvarint(b, uint64(e.Port))
	b = appendStr(b, e.Name)
	return appendStr(b, e.Namespace)
}

// appendProcess writes a presence byte and, when present, the process.
func appendProcess(b []byte, p *sdk.Process) []byte {
	if p == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(p.PID))
	b = appendStr(b, p.Comm)
	return binary.AppendUvarint(b, p.CgroupID)
}

// appendK8s writes a presence byte and, when present, the context, its
// labels in key order so that equal records encode alike. The presence
// byte is 2 when the namespace's labels follow the labels (1 without
// them, as written before namespaces were watched, so a hub reads what an
// older worker sends).
func appendK8s(b []byte, k *sdk.K8s) []byte {
	if k == nil {
		return append(b, 0)
	}
	if len(k.NamespaceLabels) == 0 {
		b = append(b, 1)
	} else {
		b = append(b, 2)
	}
	for _, s := range []string{k.Pod, k.Service, k.Node, k.WorkloadKind, k.Workload} {
		b = appendStr(b, s)
	}
	b = appendLabels(b, k.Labels)
	if len(k.NamespaceLabels) != 0 {
		b = appendLabels(b, k.NamespaceLabels)
	}
	return b
}

func appendLabels(b []byte, l map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, key := range slices.Sorted(maps.Keys(l)) {
		b = appendStr(b, key)
		b = appendStr(b, l[key])
	}
	return b
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func appendValue(b []byte, r *sdk.Record) []byte {
	var flags byte
	if r.ElapsedMs != nil {
		flags |= flagElapsed
	}
	if r.Failed {
		flags |= flagFailed
	}
	if r.Request != nil {
		flags |= flagRequest
	}
	if r.Response != nil {
		flags |= flagResponse
	}
	if r.TLS {
		flags |= flagTLS
	}
	if r.Src.Process != nil || r.Dst.Process != nil {
		flags |= flagProcess
	}
	if r.Src.K8s != nil || r.Dst.K8s != nil {
		flags |= flagK8s
	}
	b = append(b, valueVersion, flags)
	if r.ElapsedMs != nil {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(*r.ElapsedMs))
	}
	b = appendStr(b, r.Protocol)
	b = appendStr(b, r.Method)
	b = appendStr(b, r.Path)
	b = binary.AppendVarint(b, int64(r.Status))
	b = appendStr(b, r.StatusText)
	b = appendStr(b, r.Error)
	b = appendStr(b, r.Summary)
	b = binary.AppendVarint(b, unixNano(r.Timestamp))
	b = binary.AppendVarint(b, unixNano(r.End))
	b = append(b, byte(r.RequestDir))
	b = appendEndpoint(b, &r.Src)
	b = appendEndpoint(b, &r.Dst)
	b = appendStr(b, r.Stream)
	b = appendStr(b, r.Dissector)
	if flags&flagProcess != 0 {
		b = appendProcess(b, r.Src.Process)
		b = appendProcess(b, r.Dst.Process)
	}
	if flags&flagK8s != 0 {
		b = appendK8s(b, r.Src.K8s)
		b = appendK8s(b, r.Dst.K8s)
	}
	b = appendMessage(b, r.Request)
	return appendMessage(b, r.Response)
}

func appendMessage(b []byte, m *sdk.Message) []byte {
	if m == nil {
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(m.Headers)))
	for _, h := range m.Headers {
		b = appendStr(b, h.Name)
		b = appendStr(b, h.Value)
	}
	b = appendStr(b, m.Body)
	b = appendStr(b, m.Encoding)
	if m.BodyTruncated {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, m.BodySize)
	b = binary.AppendVarint(b, m.Size)
	if js, ok := m.EncodedFields(); ok {
		// Checked as JSON json.Unmarshal takes when the guest emitted it
		// (sdk.DecodeRecordLazy): stored as it came.
		return appendStr(b, js)
	}
	if len(m.Fields) == 0 {
		return append(b, 0)
	}
	js, err := sdk.AppendFieldsJSON(nil, m.Fields)
	if err != nil {
		js, _ = json.Marshal(map[string]string{"fields_error": err.Error()})
	}
	return appendStr(b, string(js))
}

// valueReader reads a stored value; the first error sticks. It reads from
// a string so that every field it returns shares one allocation.
type valueReader struct {
	s   string
	err error
}

func (r *valueReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: stored value: bad %s", sdk.ErrBadRecord, what)
	}
	r.s = ""
}

func (r *valueReader) uvarint(what string) uint64 {
	var v uint64
	for i := 0; i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			r.s = r.s[i+1:]
			return v
		}
	}
	r.fail(what)
	return 0
}

func (r *valueReader) varint(what string) int64 {
	u := r.uvarint(what)
	return int64(u>>1) ^ -int64(u&1)
}

func (r *valueReader) str(what string) string {
	n := r.uvarint(what)
	if n > uint64(len(r.s)) {
		r.fail(what)
		return ""
	}
	v := r.s[:n]
	r.s = r.s[n:]
	return v
}

func (r *valueReader) byte1(what string) byte {
	if len(r.s) == 0 {
		r.fail(what)
		return 0
	}
	c := r.s[0]
	r.s = r.s[1:]
	return c
}

func (r *valueReader) time(what string) time.Time {
	ns := r.varint(what)
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func (r *valueReader) endpoint(what string) sdk.Endpoint {
	var e sdk.Endpoint
	e.IP = r.str(what + " ip")
	port := r.uvarint(what + " port")
	if port > math.MaxUint16 {
		r.fail(what + " port")
	}
	e.Port = uint16(port)
	e.Name = r.str(what + " name")
	e.Namespace = r.str(what + " namespace")
	return e
}

func (r *valueReader) process(what string) *sdk.Process {
	if r.byte1(what) == 0 {
		return nil
	}
	p := &sdk.Process{}
	pid := r.uvarint(what + " pid")
	if pid > math.MaxInt32 {
		r.fail(what + " pid")
	}
	p.PID = int(pid)
	p.Comm = r.str(what + " comm")
	p.CgroupID = r.uvarint(what + " cgroup id")
	return p
}

func (r *valueReader) k8s(what string) *sdk.K8s {
	present := r.byte1(what)
	if present == 0 {
		return nil
	}
	k := &sdk.K8s{Pod: r.str(what + " pod"), Service: r.str(what + " service"), Node: r.str(what + " node"),
		WorkloadKind: r.str(what + " workload kind"), Workload: r.str(what + " workload")}
	k.Labels = r.labels(what + " label")
	if present == 2 {
		k.NamespaceLabels = r.labels(what + " namespace label")
	}
	return k
}

// labels reads what appendLabels wrote; nil when there are none.
func (r *valueReader) labels(what string) map[string]string {
	n := r.uvarint(what + " count")
	if n > uint64(len(r.s)) {
		r.fail(what + " count")
		return nil
	}
	if n == 0 {
		return nil
	}
	l := make(map[string]string, n)
	for range n {
		key := r.str(what)
		l[key] = r.str(what + " value")
	}
	return l
}

// maxHeaders bounds the header count a corrupt value can claim.
const maxHeaders = 1 << 16

// message decodes one message; sizesOnly skips its headers and fields,
// which are most of the work, for callers that only count.
func (r *valueReader) message(sizesOnly bool) *sdk.Message {
	m := &sdk.Message{}
	n := r.uvarint("header count")
	if n > maxHeaders || n > uint64(len(r.s)) {
		r.fail("header count")
		return nil
	}
	if sizesOnly {
		for range n {
			r.str("header name")
			r.str("header value")
		}
	} else if n > 0 {
		m.Headers = make([]sdk.Header, n)
		for i := range m.Headers {
			m.Headers[i] = sdk.Header{Name: r.str("header name"), Value: r.str("header value")}
		}
	}
	m.Body = r.str("body")
	m.Encoding = r.str("encoding")
	m.BodyTruncated = r.byte1("truncated flag") != 0
	m.BodySize = r.varint("body size")
	m.Size = r.varint("size")
	if js := r.str("fields"); js != "" && r.err == nil && !sizesOnly {
		if err := json.Unmarshal([]byte(js), &m.Fields); err != nil {
			r.fail("fields: " + err.Error())
		}
	}
	return m
}

// decodeHead decodes everything but the messages, and returns the function
// that decodes those into the same record (with sizesOnly, without their
// headers and fields).
func decodeHead(b []byte) (*sdk.Record, func(sizesOnly bool) error, error) {
	r := &valueReader{s: string(b)}
	if v := r.byte1("version"); r.err == nil && v != valueVersion {
		return nil, nil, fmt.Errorf("%w: stored value version %d, want %d", sdk.ErrBadRecord, v, valueVersion)
	}
	flags := r.byte1("flags")
	rec := &sdk.Record{Failed: flags&flagFailed != 0, TLS: flags&flagTLS != 0}
	if flags&flagElapsed != 0 {
		if len(r.s) < 8 {
			r.fail("elapsed")
		} else {
			e := math.Float64frombits(binary.BigEndian.Uint64([]byte(r.s[:8])))
			rec.ElapsedMs = &e
			r.s = r.s[8:]
		}
	}
	rec.Protocol = r.str("protocol")
	rec.Method = r.str("method")
	rec.Path = r.str("path")
	rec.Status = int(r.varint("status"))
	rec.StatusText = r.str("status text")
	rec.Error = r.str("error")
	rec.Summary = r.str("summary")
	rec.Timestamp = r.time("timestamp")
	rec.End = r.time("end")
	rec.RequestDir = sdk.Direction(r.byte1("request direction") & 1)
	rec.Src = r.endpoint("src")
	rec.Dst = r.endpoint("dst")
	rec.Stream = r.str("stream")
	rec.Dissector = r.str("dissector")
	if flags&flagProcess != 0 {
		rec.Src.Process = r.process("src process")
		rec.Dst.Process = r.process("dst process")
	}
	if flags&flagK8s != 0 {
		rec.Src.K8s = r.k8s("src kubernetes context")
		rec.Dst.K8s = r.k8s("dst kubernetes context")
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	rest := func(sizesOnly bool) error {
		if flags&flagRequest != 0 {
			rec.Request = r.message(sizesOnly)
		}
		if flags&flagResponse != 0 {
			rec.Response = r.message(sizesOnly)
		}
		if r.err == nil && len(r.s) != 0 {
			r.fail("value: trailing bytes")
		}
		return r.err
	}
	return rec, rest, nil
}

func decodeValue(b []byte) (*sdk.Record, error) {
	rec, rest, err := decodeHead(b)
	if err != nil {
		return nil, err
	}
	if err := rest(false); err != nil {
		return nil, err
	}
	return rec, nil
}

// splitBodies returns the record as it is stored under its primary key
// (bodies cleared, truncation flags set by the cap) and the capped bodies.
// The caller's record is not modified. The summary is built in sc, which
// the caller reuses from record to record: it is valid until the next
// call with the same sc (three copies a record on the heap were 2% of a
// small import's CPU, with their share of collection).
func splitBodies(sc *summaryScratch, r *sdk.Record, maxBody int) (summary *sdk.Record, reqBody, respBody string) {
	sc.rec = *r
	sc.rec.Request, reqBody = stripBody(&sc.req, r.Request, maxBody)
	sc.rec.Response, respBody = stripBody(&sc.resp, r.Response, maxBody)
	return &sc.rec, reqBody, respBody
}

// summaryScratch is where splitBodies builds a summary.
type summaryScratch struct {
	rec       sdk.Record
	req, resp sdk.Message
}

func stripBody(c, m *sdk.Message, maxBody int) (*sdk.Message, string) {
	if m == nil {
		return nil, ""
	}
	*c = *m
	body := capBody(m.Body, m.Encoding, maxBody)
	if len(body) < len(m.Body) {
		c.BodyTruncated = true
	}
	c.Body = ""
	return c, body
}

// capBody cuts body to at most max bytes without leaving a broken tail:
// base64 is cut to whole 4-character groups so it still decodes, text to a
// rune boundary so it stays valid UTF-8.
func capBody(body, encoding string, max int) string {
	if len(body) <= max {
		return body
	}
	if encoding == "base64" {
		return body[:max-max%4]
	}
	n := max
	for n > 0 && n > max-utf8.UTFMax && !utf8.RuneStart(body[n]) {
		n--
	}
	return body[:n]
}

// storedTag opens a record's stored value since format 3: the tag,
// uvarint(len(summary)), the summary (appendValue of the record without
// its bodies), then appendBodies' encoding of the bodies, or nothing when
// the record has none. Format 2 stored the summary alone (its first byte
// valueVersion, never storedTag) and the bodies under a key of their own;
// one key a record fewer is a third less for badger's write path and
// tables (RATIONALE.md). The length lets a reader decode the summary
// without copying the bodies, which only Get and WithBodies queries read.
const storedTag = 0xb3

// appendStored appends a record's stored value: summary and bodies as
// appendValue and appendBodies encode them.
func appendStored(b, summary, bodies []byte) []byte {
	b = append(b, storedTag)
	b = binary.AppendUvarint(b, uint64(len(summary)))
	b = append(b, summary...)
	return append(b, bodies...)
}

// splitStored returns the parts of a stored value. A format 2 value (the
// summary alone) is accepted too, for the migration that rewrites them.
func splitStored(v []byte) (summary, bodies []byte, err error) {
	if len(v) == 0 || v[0] != storedTag {
		return v, nil, nil
	}
	n, k := binary.Uvarint(v[1:])
	if k <= 0 || n > uint64(len(v)-1-k) {
		return nil, nil, fmt.Errorf("%w: stored value: bad summary length", sdk.ErrBadRecord)
	}
	v = v[1+k:]
	return v[:n], v[n:], nil
}

// appendBodies encodes the bodies; nil when there are none.
func appendBodies(b []byte, req, resp string) []byte {
	if req == "" && resp == "" {
		return nil
	}
	b = append(b, valueVersion)
	b = appendStr(b, req)
	return appendStr(b, resp)
}

func decodeBodies(b []byte) (req, resp string, err error) {
	r := &valueReader{s: string(b)}
	if v := r.byte1("body version"); r.err == nil && v != valueVersion {
		return "", "", fmt.Errorf("%w: stored body version %d, want %d", sdk.ErrBadRecord, v, valueVersion)
	}
	req = r.str("request body")
	resp = r.str("response body")
	if r.err == nil && len(r.s) != 0 {
		r.fail("trailing bytes after bodies")
	}
	return req, resp, r.err
}
