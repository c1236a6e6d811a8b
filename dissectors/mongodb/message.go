package mongodb

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"strings"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// Opcodes.
const (
	opReply        = 1
	opUpdate       = 2001
	opInsert       = 2002
	opQuery        = 2004
	opGetMore      = 2005
	opDelete       = 2006
	opKillCursors  = 2007
	opCommand      = 2010
	opCommandReply = 2011
	opCompressed   = 2012
	opMsg          = 2013
)

const maxDecompressed = 4 << 20 // bytes one OP_COMPRESSED may expand to

func opName(op int32) (string, bool) {
	switch op {
	case opReply:
		return "OP_REPLY", true
	case opUpdate:
		return "OP_UPDATE", true
	case opInsert:
		return "OP_INSERT", true
	case opQuery:
		return "OP_QUERY", true
	case opGetMore:
		return "OP_GET_MORE", true
	case opDelete:
		return "OP_DELETE", true
	case opKillCursors:
		return "OP_KILL_CURSORS", true
	case opCommand:
		return "OP_COMMAND", true
	case opCommandReply:
		return "OP_COMMANDREPLY", true
	case opCompressed:
		return "OP_COMPRESSED", true
	case opMsg:
		return "OP_MSG", true
	}
	return "", false
}

// header is the 16-byte message header.
type header struct {
	length, requestID, responseTo, opCode int32
}

func parseHeader(b []byte) header {
	le := binary.LittleEndian
	return header{int32(le.Uint32(b)), int32(le.Uint32(b[4:])), int32(le.Uint32(b[8:])), int32(le.Uint32(b[12:]))}
}

// message is what one wire message says.
type message struct {
	hdr        header
	op         string // opcode name (the original one inside OP_COMPRESSED)
	opCode     int32
	compressor string
	command    string
	database   string
	collection string
	fullName   string // legacy full collection name
	doc        []byte // the command or first reply document
	moreToCome bool
	sequences  map[string]int // OP_MSG document sequences: identifier → documents
	numDocs    int            // OP_REPLY numberReturned
	queryFail  bool           // OP_REPLY QueryFailure flag
	problem    string
}

// parseMessage decodes a message body (after the header). body may be a
// prefix of the message when it is larger than the parse window.
func parseMessage(hdr header, body []byte) *message {
	m := &message{hdr: hdr, opCode: hdr.opCode}
	m.op, _ = opName(hdr.opCode)
	if hdr.opCode == opCompressed {
		if len(body) < 9 {
			m.problem = "OP_COMPRESSED header cut short"
			return m
		}
		orig := int32(binary.LittleEndian.Uint32(body))
		size := int(int32(binary.LittleEndian.Uint32(body[4:])))
		dec, name, err := decompress(body[8], body[9:], size)
		m.compressor = name
		if err != "" {
			m.problem = err
			m.opCode = orig
			m.op, _ = opName(orig)
			return m
		}
		inner := parseMessage(header{hdr.length, hdr.requestID, hdr.responseTo, orig}, dec)
		inner.compressor = name
		return inner
	}
	le := binary.LittleEndian
	cstr := func(b []byte) (string, []byte) {
		s, n := cstring(b)
		if n < 0 {
			return "", nil
		}
		return s, b[n:]
	}
	switch hdr.opCode {
	case opMsg:
		if len(body) < 4 {
			m.problem = "OP_MSG cut short"
			return m
		}
		flags := le.Uint32(body)
		m.moreToCome = flags&2 != 0
		b := body[4:]
		if flags&1 != 0 && len(b) >= 4 && len(b) == int(hdr.length)-20 {
			b = b[:len(b)-4] // the CRC-32C checksum
		}
		for len(b) > 0 {
			kind := b[0]
			b = b[1:]
			switch kind {
			case 0:
				n := docLen(b)
				if n < 0 {
					m.problem = "malformed OP_MSG body section"
					b = nil
					break
				}
				if m.doc == nil {
					m.doc = b[:n]
				}
				b = b[n:]
			case 1:
				if len(b) < 4 {
					b = nil
					break
				}
				n := int(int32(le.Uint32(b)))
				if n < 5 || n > len(b) {
					// A sequence cut by the parse window still names itself.
					n = len(b)
				}
				seq := b[4:n]
				id, rest := cstr(seq)
				count := 0
				for len(rest) > 0 {
					d := docLen(rest)
					if d < 0 {
						break
					}
					count++
					rest = rest[d:]
				}
				if m.sequences == nil {
					m.sequences = map[string]int{}
				}
				if len(m.sequences) < 16 {
					m.sequences[id] = count
				}
				b = b[n:]
			default:
				m.problem = "unknown OP_MSG section kind"
				b = nil
			}
		}
		m.setCommand(m.doc)
	case opQuery:
		if len(body) < 4 {
			m.problem = "OP_QUERY cut short"
			return m
		}
		name, rest := cstr(body[4:])
		m.fullName = name
		if rest == nil || len(rest) < 8 {
			m.problem = "OP_QUERY cut short"
			return m
		}
		q := rest[8:]
		if n := docLen(q); n > 0 {
			m.doc = q[:n]
		}
		db, coll, _ := strings.Cut(name, ".")
		if coll == "$cmd" {
			d := m.doc
			if e, ok := lookup(d, "$query"); ok && e.typ == tDocument {
				d = e.raw
			} else if e, ok := lookup(d, "query"); ok && e.typ == tDocument {
				if f, ok := first(d); ok && f.key == "query" {
					d = e.raw
				}
			}
			m.setCommand(d)
			if m.database == "" {
				m.database = db
			}
		} else {
			m.database, m.collection = db, coll
		}
	case opReply:
		if len(body) < 20 {
			m.problem = "OP_REPLY cut short"
			return m
		}
		m.queryFail = le.Uint32(body)&2 != 0
		m.numDocs = int(int32(le.Uint32(body[16:])))
		if n := docLen(body[20:]); n > 0 {
			m.doc = body[20 : 20+n]
		}
	case opInsert:
		if len(body) < 4 {
			return m
		}
		m.fullName, _ = cstr(body[4:])
		m.database, m.collection, _ = strings.Cut(m.fullName, ".")
	case opUpdate, opDelete, opGetMore:
		if len(body) < 4 {
			return m
		}
		var rest []byte
		m.fullName, rest = cstr(body[4:])
		m.database, m.collection, _ = strings.Cut(m.fullName, ".")
		if hdr.opCode != opGetMore && len(rest) >= 4 {
			if n := docLen(rest[4:]); n > 0 {
				m.doc = rest[4 : 4+n]
			}
		}
	case opCommand:
		var rest []byte
		m.database, rest = cstr(body)
		m.command, rest = cstr(rest)
		if n := docLen(rest); n > 0 {
			m.doc = rest[:n]
		}
	case opCommandReply:
		if n := docLen(body); n > 0 {
			m.doc = body[:n]
		}
	}
	return m
}

// setCommand takes the command name, collection and database from a command
// document: {find: "users", $db: "app"} reads as find on app.users.
func (m *message) setCommand(doc []byte) {
	e, ok := first(doc)
	if !ok {
		return
	}
	m.command = e.key
	if s, ok := e.str(); ok && !notCollection[e.key] {
		m.collection = s
	}
	if m.command == "getMore" {
		// getMore's first value is the cursor id; the collection follows.
		if c, ok := lookup(doc, "collection"); ok {
			m.collection, _ = c.str()
		}
	}
	if d, ok := lookup(doc, "$db"); ok {
		m.database, _ = d.str()
	}
}

// notCollection lists commands whose first value is a string but not a
// collection name.
var notCollection = map[string]bool{"getLog": true, "saslStart": true, "authenticate": true, "logout": true}

// decompress expands an OP_COMPRESSED payload, reading at most
// maxDecompressed bytes whatever the sender claims.
func decompress(id byte, data []byte, size int) ([]byte, string, string) {
	limit := min(max(size, 0), maxDecompressed)
	switch id {
	case 0:
		return data, "noop", ""
	case 1:
		n, err := snappy.DecodedLen(data)
		if err != nil || n > maxDecompressed {
			return nil, "snappy", "snappy payload undecodable or too large"
		}
		out, err := snappy.Decode(nil, data)
		if err != nil {
			return nil, "snappy", "snappy payload undecodable"
		}
		return out, "snappy", ""
	case 2:
		r, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, "zlib", "zlib payload undecodable"
		}
		out, _ := io.ReadAll(io.LimitReader(r, int64(limit)))
		return out, "zlib", ""
	case 3:
		r, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxDecompressed))
		if err != nil {
			return nil, "zstd", "zstd payload undecodable"
		}
		defer r.Close()
		out, _ := io.ReadAll(io.LimitReader(r, int64(limit)))
		return out, "zstd", ""
	}
	return nil, "unknown", "unknown compressor"
}
