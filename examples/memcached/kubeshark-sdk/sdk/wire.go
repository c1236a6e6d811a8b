package sdk

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
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
	// slab holds the records (each with its two messages) the next
	// decodes fill: one allocation for recordSlab of them instead of one
	// each (RATIONALE.md, "Plugin records in slabs").
	slab []decodedRecord
	// headers holds the header lists of the next records' messages, one
	// allocation for many messages instead of one each.
	headers []Header
}

// recordSlab is how many records a RecordDecoder allocates at once: 16
// of 632 bytes fill the allocator's 10,240-byte size class with 128 to
// spare, and a slab lives as long as any of its records.
const recordSlab = 16

// headerSlab is how many headers a RecordDecoder allocates at once (4 KiB,
// an HTTP/1.1 message has 5 to 10); a message with more than a quarter of
// that gets a list of its own.
const headerSlab = 128

// headerList returns a list of n empty headers: from the decoder's slab
// when d is not nil and n is small, capped at n so that appending to one
// message's headers never writes into the next's.
func (d *RecordDecoder) headerList(n int) []Header {
	if d == nil || n > headerSlab/4 {
		return make([]Header, n)
	}
	if len(d.headers) < n {
		d.headers = make([]Header, headerSlab)
	}
	h := d.headers[:n:n]
	d.headers = d.headers[n:]
	return h
}

// recordChunk is the size of a RecordDecoder's chunks; a record larger
// than an eighth of it gets its own allocation, so one long-lived small
// record holds at most this much.
const recordChunk = 16 << 10

// Decode is DecodeRecord.
func (d *RecordDecoder) Decode(b []byte) (*Record, error) {
	return d.decode(b, false)
}

// DecodeLazy is DecodeRecordLazy.
func (d *RecordDecoder) DecodeLazy(b []byte) (*Record, error) {
	return d.decode(b, true)
}

// decode decodes b into the slab's next record, which it takes only on
// success: a record that failed is cleared for the next.
func (d *RecordDecoder) decode(b []byte, lazy bool) (*Record, error) {
	if len(d.slab) == 0 {
		d.slab = make([]decodedRecord, recordSlab)
	}
	all := &d.slab[0]
	rec, err := decodeRecordFrom(b, d.copy(b), lazy, all, d)
	if err != nil {
		*all = decodedRecord{}
		return nil, err
	}
	d.slab = d.slab[1:]
	return rec, nil
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
	return decodeRecordFrom(b, string(b), lazy, &decodedRecord{}, nil)
}

// decodeRecordFrom decodes b into all, which must be zero; text holds the
// same bytes, and the record's strings are slices of it. Header lists
// come from d's slab when d is not nil.
func decodeRecordFrom(b []byte, text string, lazy bool, all *decodedRecord, d *RecordDecoder) (*Record, error) {
	if rec := decodeFast(b, text, lazy, all, d); rec != nil {
		return rec, nil
	}
	// decodeFast may have filled part of all before it gave up.
	*all = decodedRecord{}
	return decodeCareful(b, text, lazy, all)
}

// decodeCareful is decodeRecordFrom's careful reader, which names what is
// wrong and where. The record is all's, which must be zero.
func decodeCareful(b []byte, text string, lazy bool, all *decodedRecord) (*Record, error) {
	r := &wireReader{b: b, all: text, lazy: lazy}
	if v := r.byte1("version"); r.err == nil && v != WireVersion {
		return nil, fmt.Errorf("%w: wire version %d, want %d", ErrBadRecord, v, WireVersion)
	}
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
// two accept exactly the same input (FuzzDecodeFast). It reads b and
// slices text, which holds the same bytes; its readers are small enough
// to be inlined for one-byte lengths and varints, which is nearly every
// one (a call per string and per varint was half of its cost). The record
// is all's, which must be zero; header lists come from d
// (RecordDecoder.headerList).
func decodeFast(b []byte, text string, lazy bool, all *decodedRecord, d *RecordDecoder) *Record {
	if len(b) == 0 || len(text) != len(b) || b[0] != WireVersion {
		return nil
	}
	rec := &all.rec
	var s string
	var u uint64
	var c byte
	i, j := 1, 0
	if s, j = wireStr(b, text, i); j < 0 {
		s, j = wireStrLong(b, text, i)
	}
	if i = j; s != "" {
		rec.Protocol = s
	}
	if s, j = wireStr(b, text, i); j < 0 {
		s, j = wireStrLong(b, text, i)
	}
	if i = j; s != "" {
		rec.Method = s
	}
	if s, j = wireStr(b, text, i); j < 0 {
		s, j = wireStrLong(b, text, i)
	}
	if i = j; s != "" {
		rec.Path = s
	}
	if u, j = wireUvarint(b, i); j < 0 {
		u, j = wireUvarintLong(b, i)
	}
	i, rec.Status = j, int(unzigzag(u))
	if s, j = wireStr(b, text, i); j < 0 {
		s, j = wireStrLong(b, text, i)
	}
	if i = j; s != "" {
		rec.StatusText = s
	}
	c, i = wireByte(b, i)
	rec.Failed = c != 0
	if s, j = wireStr(b, text, i); j < 0 {
		s, j = wireStrLong(b, text, i)
	}
	if i = j; s != "" {
		rec.Error = s
	}
	if s, j = wireStr(b, text, i); j < 0 {
		s, j = wireStrLong(b, text, i)
	}
	if i = j; s != "" {
		rec.Summary = s
	}
	// Timestamps take nine bytes: always the long reader.
	u, i = wireUvarintLong(b, i)
	if v := unzigzag(u); v != 0 {
		rec.Timestamp = time.Unix(0, v).UTC()
	}
	u, i = wireUvarintLong(b, i)
	if v := unzigzag(u); v != 0 {
		rec.End = time.Unix(0, v).UTC()
	}
	c, i = wireByte(b, i)
	rec.RequestDir = Direction(c & 1)
	if i < 0 {
		return nil
	}
	var m *Message
	if m, i = wireMessage(b, text, i, lazy, &all.req, d); m != nil {
		rec.Request = m
	}
	if m, i = wireMessage(b, text, i, lazy, &all.resp, d); m != nil {
		rec.Response = m
	}
	if i != len(b) {
		return nil
	}
	return rec
}

// The readers of decodeFast take the offset to read at and return the
// offset after what they read, or -1, which every later read passes on.
// wireStr and wireUvarint read the one-byte forms of a length or varint,
// nearly every one, and are small enough to be inlined; they return -1
// for anything else, and their caller then calls wireStrLong or
// wireUvarintLong, which read every form (a call per string and per
// varint was half of decodeFast's cost). A record's fields are written
// only when they are set: a pointer written into the new record while the
// collector marks costs a write barrier, even a nil one.

func wireUvarint(b []byte, i int) (uint64, int) {
	if uint(i) < uint(len(b)) && b[i] < 0x80 {
		return uint64(b[i]), i + 1
	}
	return 0, -1
}

// wireUvarintLong reads what binary.Uvarint accepts, the same value, the
// same failures. Up to nine bytes (every timestamp) are read from one
// eight-byte load when nine bytes are left.
func wireUvarintLong(b []byte, i int) (uint64, int) {
	if i < 0 || i >= len(b) {
		return 0, -1
	}
	if len(b)-i >= 9 {
		w := binary.LittleEndian.Uint64(b[i : i+8])
		if stops := ^w & msb; stops != 0 {
			// The varint ends at the lowest byte without its high bit.
			n := bits.TrailingZeros64(stops)/8 + 1
			w &= ^uint64(0) >> (64 - 8*n) // its bytes alone
			return compact7(w), i + n
		}
		if c := b[i+8]; c < 0x80 {
			return compact7(w) | uint64(c)<<56, i + 9
		}
	}
	v, n := binary.Uvarint(b[i:])
	if n <= 0 {
		return 0, -1
	}
	return v, i + n
}

// compact7 joins the low seven bits of each byte of w, least significant
// byte first: the value of a varint of up to eight bytes.
func compact7(w uint64) uint64 {
	w &= lsb * 0x7f
	w = w&0x007f007f007f007f | w&0x7f007f007f007f00>>1
	w = w&0x00003fff00003fff | w&0x3fff00003fff0000>>2
	return w&0x000000000fffffff | w&0x0fffffff00000000>>4
}

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

func wireByte(b []byte, i int) (byte, int) {
	if uint(i) < uint(len(b)) {
		return b[i], i + 1
	}
	return 0, -1
}

// wireStr reads a string of under 128 bytes: text[...] over the bytes b
// holds there.
func wireStr(b []byte, text string, i int) (string, int) {
	if uint(i) < uint(len(b)) {
		if n := int(b[i]); n < 0x80 && n < len(text)-i {
			return text[i+1 : i+1+n], i + 1 + n
		}
	}
	return "", -1
}

func wireStrLong(b []byte, text string, i int) (string, int) {
	n, i := wireUvarintLong(b, i)
	if i < 0 || n > uint64(len(b)-i) || len(text) != len(b) {
		return "", -1
	}
	return text[i : i+int(n)], i + int(n)
}

func wireMessage(b []byte, text string, i int, lazy bool, m *Message, d *RecordDecoder) (*Message, int) {
	present, i := wireByte(b, i)
	if i < 0 || present == 0 {
		return nil, i
	}
	var u uint64
	var s string
	j := 0
	if u, j = wireUvarint(b, i); j < 0 {
		u, j = wireUvarintLong(b, i)
	}
	if i = j; i < 0 || u > maxWireHeaders || u > uint64(len(b)-i) {
		return nil, -1
	}
	if u > 0 {
		m.Headers = d.headerList(int(u))
		for k := range m.Headers {
			h := &m.Headers[k]
			if s, j = wireStr(b, text, i); j < 0 {
				s, j = wireStrLong(b, text, i)
			}
			if i = j; s != "" {
				h.Name = s
			}
			if s, j = wireStr(b, text, i); j < 0 {
				s, j = wireStrLong(b, text, i)
			}
			if i = j; s != "" {
				h.Value = s
			}
		}
	}
	if s, j = wireStr(b, text, i); j < 0 {
		s, j = wireStrLong(b, text, i)
	}
	if i = j; s != "" {
		m.Body = s
	}
	if s, j = wireStr(b, text, i); j < 0 {
		s, j = wireStrLong(b, text, i)
	}
	if i = j; s != "" {
		m.Encoding = s
	}
	var c byte
	c, i = wireByte(b, i)
	m.BodyTruncated = c != 0
	if u, j = wireUvarint(b, i); j < 0 {
		u, j = wireUvarintLong(b, i)
	}
	i, m.BodySize = j, unzigzag(u)
	if u, j = wireUvarint(b, i); j < 0 {
		u, j = wireUvarintLong(b, i)
	}
	i, m.Size = j, unzigzag(u)
	if s, j = wireStr(b, text, i); j < 0 {
		s, j = wireStrLong(b, text, i)
	}
	if i = j; i < 0 || len(s) == 0 {
		return m, i
	}
	js := b[i-len(s) : i]
	if !lazy {
		fields, err := decodeFields(js)
		if err != nil {
			return nil, -1
		}
		m.Fields = fields
		return m, i
	}
	empty, ok := checkFields(js)
	if !ok {
		return nil, -1
	}
	if !empty {
		m.encoded = s
	}
	return m, i
}
