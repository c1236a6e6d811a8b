package sdk

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// WireVersion is the first byte of every encoded record.
const WireVersion = 1

// ErrBadRecord is returned (wrapped) by DecodeRecord for malformed input.
var ErrBadRecord = errors.New("malformed record encoding")

// Limits applied while decoding records that come from untrusted guests.
const (
	maxWireHeaders = 4096
)

// AppendRecord appends the wire encoding of r to b. The encoding is a flat
// sequence of length-prefixed strings and varints; RATIONALE.md explains why
// it was chosen over JSON. Fields maps are carried as embedded JSON because
// they are open-ended.
func AppendRecord(b []byte, r *Record) []byte {
	b = append(b, WireVersion)
	b = appendString(b, r.Protocol)
	b = appendString(b, r.Method)
	b = appendString(b, r.Path)
	b = binary.AppendVarint(b, int64(r.Status))
	b = appendString(b, r.StatusText)
	b = appendBool(b, r.Failed)
	b = appendString(b, r.Error)
	b = appendString(b, r.Summary)
	b = binary.AppendVarint(b, unixNano(r.Timestamp))
	b = binary.AppendVarint(b, unixNano(r.End))
	b = append(b, byte(r.RequestDir))
	b = appendMessage(b, r.Request)
	b = appendMessage(b, r.Response)
	return b
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func appendString(b []byte, s string) []byte {
	if len(s) < 0x80 {
		// Most strings: a one-byte length, without the call (which costs
		// more than the copy inside WebAssembly).
		return append(append(b, byte(len(s))), s...)
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendMessage(b []byte, m *Message) []byte {
	if m == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(len(m.Headers)))
	for _, h := range m.Headers {
		b = appendString(b, h.Name)
		b = appendString(b, h.Value)
	}
	b = appendString(b, m.Body)
	b = appendString(b, m.Encoding)
	b = appendBool(b, m.BodyTruncated)
	b = binary.AppendVarint(b, m.BodySize)
	b = binary.AppendVarint(b, m.Size)
	switch {
	case m.encoded != "":
		b = binary.AppendUvarint(b, uint64(len(m.encoded)))
		return append(b, m.encoded...)
	case len(m.set) > 0 && len(m.Fields) == 0:
		return appendFieldList(b, m.set)
	case len(m.set) > 0:
		return appendFieldMap(b, m.fieldMap())
	case len(m.Fields) > 0:
		return appendFieldMap(b, m.Fields)
	}
	return append(b, 0)
}

// appendFieldMap writes fields as JSON, length first.
func appendFieldMap(b []byte, fields map[string]any) []byte {
	js, err := AppendFieldsJSON(make([]byte, 0, 64*len(fields)), fields)
	if err != nil {
		js, _ = json.Marshal(map[string]string{"fields_error": err.Error()})
	}
	b = binary.AppendUvarint(b, uint64(len(js)))
	return append(b, js...)
}

// appendFieldList writes a guest's listed fields exactly as appendFieldMap
// writes the map they stand for (keys sorted, a key Set twice keeping its
// last value), length first, without building the map.
func appendFieldList(b []byte, set Object) []byte {
	start := len(b)
	b = append(b, 0) // the length, one byte while the JSON is under 128
	b, ok := appendObject(b, set)
	if !ok {
		m := Message{set: set}
		return appendFieldMap(b[:start], m.fieldMap())
	}
	n := len(b) - start - 1
	if n < 0x80 {
		b[start] = byte(n)
		return b
	}
	var l [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(l[:], uint64(n))
	for range k - 1 {
		b = append(b, 0)
	}
	copy(b[start+k:], b[start+1:start+1+n])
	copy(b[start:], l[:k])
	return b
}

// wireReader reads a record. Every string it returns is a slice of one copy
// of the whole record, so decoding costs one allocation for all of them,
// not one per header name and value.
type wireReader struct {
	b    []byte
	all  string // the record as a string; b is its tail
	msg  string // the message being read, for errors
	err  error
	lazy bool // keep fields encoded (DecodeRecordLazy)
}

func (r *wireReader) fail(what string) {
	if r.err == nil {
		if r.msg != "" {
			what = r.msg + " " + what
		}
		r.err = fmt.Errorf("%w: %s at %d bytes from the end", ErrBadRecord, what, len(r.b))
	}
	r.b = nil
}

func (r *wireReader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) varint(what string) int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(what + " length")
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *wireReader) str(what string) string {
	b := r.bytes(what)
	if len(b) == 0 {
		return ""
	}
	end := len(r.all) - len(r.b)
	return r.all[end-len(b) : end]
}

func (r *wireReader) byte1(what string) byte {
	if len(r.b) < 1 {
		r.fail(what)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *wireReader) time(what string) time.Time {
	ns := r.varint(what)
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// DecodeRecord parses one record produced by AppendRecord. It never panics on
// hostile input; errors wrap ErrBadRecord.
func DecodeRecord(b []byte) (*Record, error) {
	return decodeRecord(b, false)
}

// DecodeRecordLazy is DecodeRecord that leaves each message's fields as
// the guest encoded them: checked as DecodeRecord checks them, so the same
// input fails with the same error, but not built into a map. Fields stays
// nil until DecodeFields; EncodedFields returns the text, which a store
// can keep as it is. The host decodes every record a guest emits, and
// building the maps was most of that cost for records nobody filters
// before they are stored (RATIONALE.md).
func DecodeRecordLazy(b []byte) (*Record, error) {
	return decodeRecord(b, true)
}

// RecordDecoder decodes the records of one guest, as DecodeRecord and
// DecodeRecordLazy do, with the same results and errors, but copies their
// bytes into chunks it shares between records instead of allocating a
// string per record: the host decodes every record a guest emits, and for
// small records the allocation and the garbage collector's share of it
// cost as much as decoding (BENCHMARKS.md, the plugins' split). A chunk
// lives as long as any record decoded into it. The zero value is ready;
// a RecordDecoder is not safe for concurrent use.
type RecordDecoder struct {
	chunk []byte
}

// recordChunk is the size of a RecordDecoder's chunks; a record larger
// than an eighth of it gets its own allocation, so one long-lived small
// record holds at most this much.
const recordChunk = 16 << 10

// Decode is DecodeRecord.
func (d *RecordDecoder) Decode(b []byte) (*Record, error) {
	return decodeRecordFrom(b, d.copy(b), false)
}

// DecodeLazy is DecodeRecordLazy.
func (d *RecordDecoder) DecodeLazy(b []byte) (*Record, error) {
	return decodeRecordFrom(b, d.copy(b), true)
}

// copy returns b's bytes as a string in the current chunk. The chunk is
// only ever appended to, so the bytes under a string never change.
func (d *RecordDecoder) copy(b []byte) string {
	if len(b) == 0 || len(b) > recordChunk/8 {
		return string(b)
	}
	if cap(d.chunk)-len(d.chunk) < len(b) {
		d.chunk = make([]byte, 0, recordChunk)
	}
	off := len(d.chunk)
	d.chunk = append(d.chunk, b...)
	return unsafe.String(&d.chunk[off], len(b))
}

// decodedRecord holds a record and both its messages in one allocation.
type decodedRecord struct {
	rec       Record
	req, resp Message
}

func decodeRecord(b []byte, lazy bool) (*Record, error) {
	return decodeRecordFrom(b, string(b), lazy)
}

// decodeRecordFrom decodes b; text holds the same bytes, and the record's
// strings are slices of it.
func decodeRecordFrom(b []byte, text string, lazy bool) (*Record, error) {
	if rec := decodeFast(b, text, lazy); rec != nil {
		return rec, nil
	}
	return decodeCareful(b, text, lazy)
}

// decodeCareful is decodeRecordFrom's careful reader, which names what is
// wrong and where.
func decodeCareful(b []byte, text string, lazy bool) (*Record, error) {
	r := &wireReader{b: b, all: text, lazy: lazy}
	if v := r.byte1("version"); r.err == nil && v != WireVersion {
		return nil, fmt.Errorf("%w: wire version %d, want %d", ErrBadRecord, v, WireVersion)
	}
	all := &decodedRecord{}
	rec := &all.rec
	rec.Protocol = r.str("protocol")
	rec.Method = r.str("method")
	rec.Path = r.str("path")
	rec.Status = int(r.varint("status"))
	rec.StatusText = r.str("status_text")
	rec.Failed = r.byte1("failed") != 0
	rec.Error = r.str("error")
	rec.Summary = r.str("summary")
	rec.Timestamp = r.time("timestamp")
	rec.End = r.time("end")
	rec.RequestDir = Direction(r.byte1("request_dir") & 1)
	rec.Request = r.message("request", &all.req)
	rec.Response = r.message("response", &all.resp)
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadRecord, len(r.b))
	}
	return rec, nil
}

func (r *wireReader) message(what string, m *Message) *Message {
	if r.byte1(what) == 0 || r.err != nil {
		return nil
	}
	r.msg = what
	defer func() { r.msg = "" }()
	n := r.uvarint("header count")
	if n > maxWireHeaders || n > uint64(len(r.b)) {
		r.fail("header count")
		return nil
	}
	if n > 0 {
		m.Headers = make([]Header, 0, n)
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		m.Headers = append(m.Headers, Header{Name: r.str("header name"), Value: r.str("header value")})
	}
	m.Body = r.str("body")
	m.Encoding = r.str("encoding")
	m.BodyTruncated = r.byte1("truncated") != 0
	m.BodySize = r.varint("body size")
	m.Size = r.varint("size")
	if js := r.bytes("fields"); len(js) > 0 && r.err == nil {
		if r.lazy {
			if empty, ok := checkFields(js); ok {
				if !empty {
					end := len(r.all) - len(r.b)
					m.encoded = r.all[end-len(js) : end]
				}
				return m
			}
		}
		fields, err := decodeFields(js)
		if err != nil {
			r.fail("fields: " + err.Error())
		}
		m.Fields = fields
	}
	return m
}

// decodeFast decodes a well-formed record in one pass, with no error
// bookkeeping: the host decodes every record a guest emits, and the
// careful reader's calls per field cost more than the record's bytes. It
// returns nil wherever it is not sure (malformed input, fields its quick
// check does not vouch for), and decodeRecordFrom then reads the record
// again with wireReader, which gives the error, or the same record: the
// two accept exactly the same input (FuzzDecodeFast).
func decodeFast(b []byte, text string, lazy bool) *Record {
	if len(b) == 0 || b[0] != WireVersion {
		return nil
	}
	all := &decodedRecord{}
	rec := &all.rec
	i := 1
	rec.Protocol, i = wireStr(b, text, i)
	rec.Method, i = wireStr(b, text, i)
	rec.Path, i = wireStr(b, text, i)
	var v int64
	v, i = wireVarint(b, i)
	rec.Status = int(v)
	rec.StatusText, i = wireStr(b, text, i)
	var c byte
	c, i = wireByte(b, i)
	rec.Failed = c != 0
	rec.Error, i = wireStr(b, text, i)
	rec.Summary, i = wireStr(b, text, i)
	v, i = wireVarint(b, i)
	if v != 0 {
		rec.Timestamp = time.Unix(0, v).UTC()
	}
	v, i = wireVarint(b, i)
	if v != 0 {
		rec.End = time.Unix(0, v).UTC()
	}
	c, i = wireByte(b, i)
	rec.RequestDir = Direction(c & 1)
	rec.Request, i = wireMessage(b, text, i, lazy, &all.req)
	rec.Response, i = wireMessage(b, text, i, lazy, &all.resp)
	if i != len(b) {
		return nil
	}
	return rec
}

// The readers of decodeFast take the offset to read at and return the
// offset after what they read, or -1, which every later read passes on.

func wireUvarint(b []byte, i int) (uint64, int) {
	if uint(i) < uint(len(b)) && b[i] < 0x80 {
		return uint64(b[i]), i + 1
	}
	return wireUvarintLong(b, i)
}

// wireUvarintLong is wireUvarint past its first byte, apart so that the
// one-byte case inlines.
func wireUvarintLong(b []byte, i int) (uint64, int) {
	if i < 0 || i >= len(b) {
		return 0, -1
	}
	v, n := binary.Uvarint(b[i:])
	if n <= 0 {
		return 0, -1
	}
	return v, i + n
}

func wireVarint(b []byte, i int) (int64, int) {
	u, i := wireUvarint(b, i)
	return int64(u>>1) ^ -int64(u&1), i
}

func wireByte(b []byte, i int) (byte, int) {
	if uint(i) < uint(len(b)) {
		return b[i], i + 1
	}
	return 0, -1
}

func wireStr(b []byte, text string, i int) (string, int) {
	n, i := wireUvarint(b, i)
	if i < 0 || n > uint64(len(b)-i) {
		return "", -1
	}
	return text[i : i+int(n)], i + int(n)
}

func wireMessage(b []byte, text string, i int, lazy bool, m *Message) (*Message, int) {
	present, i := wireByte(b, i)
	if i < 0 || present == 0 {
		return nil, i
	}
	n, i := wireUvarint(b, i)
	if i < 0 || n > maxWireHeaders || n > uint64(len(b)-i) {
		return nil, -1
	}
	if n > 0 {
		m.Headers = make([]Header, n)
		for k := range m.Headers {
			m.Headers[k].Name, i = wireStr(b, text, i)
			m.Headers[k].Value, i = wireStr(b, text, i)
		}
	}
	m.Body, i = wireStr(b, text, i)
	m.Encoding, i = wireStr(b, text, i)
	var c byte
	c, i = wireByte(b, i)
	m.BodyTruncated = c != 0
	m.BodySize, i = wireVarint(b, i)
	m.Size, i = wireVarint(b, i)
	var js string
	js, i = wireStr(b, text, i)
	if i < 0 || len(js) == 0 {
		return m, i
	}
	if !lazy {
		fields, err := decodeFields(b[i-len(js) : i])
		if err != nil {
			return nil, -1
		}
		m.Fields = fields
		return m, i
	}
	empty, ok := checkFields(b[i-len(js) : i])
	if !ok {
		return nil, -1
	}
	if !empty {
		m.encoded = js
	}
	return m, i
}
