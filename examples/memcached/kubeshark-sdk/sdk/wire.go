package sdk

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
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

// decodedRecord holds a record and both its messages in one allocation.
type decodedRecord struct {
	rec       Record
	req, resp Message
}

func decodeRecord(b []byte, lazy bool) (*Record, error) {
	r := &wireReader{b: b, all: string(b), lazy: lazy}
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
