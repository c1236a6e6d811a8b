package mysql

import "bytes"

// lenenc reads a length-encoded integer.
func lenenc(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1, true
	case c == 0xfc && len(b) >= 3:
		return uint64(le2(b[1:])), 3, true
	case c == 0xfd && len(b) >= 4:
		return uint64(le3(b[1:])), 4, true
	case c == 0xfe && len(b) >= 9:
		return uint64(le4(b[1:])) | uint64(le4(b[5:]))<<32, 9, true
	}
	return 0, 0, false
}

// lenencStr reads a length-encoded string.
func lenencStr(b []byte) (s, rest []byte, ok bool) {
	v, n, ok := lenenc(b)
	if !ok || v > uint64(len(b)-n) {
		return nil, b, false
	}
	return b[n : n+int(v)], b[n+int(v):], true
}

// okPacket is what an OK packet (header 0x00, or 0xfe ending a result set
// under CLIENT_DEPRECATE_EOF) says.
type okPacket struct {
	affected, insertID uint64
	status             int
}

func parseOK(p []byte) (okPacket, bool) {
	var o okPacket
	a, n, ok := lenenc(p[1:])
	if !ok {
		return o, false
	}
	id, m, ok := lenenc(p[1+n:])
	if !ok {
		return o, false
	}
	o.affected, o.insertID = a, id
	if r := p[1+n+m:]; len(r) >= 2 {
		o.status = le2(r)
	}
	return o, true
}

// errPacket is what an ERR packet says.
type errPacket struct {
	code           int
	state, message string
}

func parseErr(p []byte) errPacket {
	var e errPacket
	if len(p) < 3 {
		return e
	}
	e.code = le2(p[1:])
	r := p[3:]
	if len(r) >= 6 && r[0] == '#' {
		e.state = string(r[1:6])
		r = r[6:]
	}
	e.message = string(r)
	if len(e.message) > 1024 {
		e.message = e.message[:1024]
	}
	return e
}

// isEOF reports a classic EOF packet (0xfe, shorter than 9 bytes).
func isEOF(p []byte) bool { return len(p) > 0 && len(p) < 9 && p[0] == 0xfe }

// columnName reads the name from a column definition (protocol 4.1).
func columnName(p []byte) string {
	r := p
	for range 4 { // catalog, schema, table, org_table
		var ok bool
		if _, r, ok = lenencStr(r); !ok {
			return ""
		}
	}
	name, _, ok := lenencStr(r)
	if !ok {
		return ""
	}
	return string(name)
}

// handshakeResponse is what the client's HandshakeResponse41 says.
type handshakeResponse struct {
	caps         uint32
	user, schema string
}

func parseHandshakeResponse(p []byte) (handshakeResponse, bool) {
	var h handshakeResponse
	if len(p) < 32 {
		return h, false
	}
	h.caps = le4(p)
	if h.caps&capProtocol41 == 0 {
		return h, false
	}
	r := p[32:]
	i := bytes.IndexByte(r, 0)
	if i < 0 {
		return h, len(r) == 0
	}
	h.user = string(r[:i])
	r = r[i+1:]
	switch {
	case h.caps&capLenencAuth != 0:
		_, rest, ok := lenencStr(r)
		if !ok {
			return h, true
		}
		r = rest
	case h.caps&capSecureConn != 0:
		if len(r) < 1 || int(r[0]) > len(r)-1 {
			return h, true
		}
		r = r[1+int(r[0]):]
	default:
		j := bytes.IndexByte(r, 0)
		if j < 0 {
			return h, true
		}
		r = r[j+1:]
	}
	if h.caps&capConnectWithDB != 0 {
		if j := bytes.IndexByte(r, 0); j >= 0 {
			h.schema = string(r[:j])
		}
	}
	return h, true
}

// cstr returns b up to its first NUL.
func cstr(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// skipQueryAttributes walks the attribute block in front of a COM_QUERY's
// text: counts, a NULL bitmap, types and names, then binary values.
func skipQueryAttributes(b []byte) ([]byte, bool) {
	n, k, ok := lenenc(b)
	if !ok || n > 4096 {
		return nil, false
	}
	_, k2, ok := lenenc(b[k:])
	if !ok {
		return nil, false
	}
	r := b[k+k2:]
	if n == 0 {
		return r, true
	}
	nb := (int(n) + 7) / 8
	if len(r) < nb+1 {
		return nil, false
	}
	nulls := r[:nb]
	bound := r[nb]
	r = r[nb+1:]
	if bound != 1 {
		return nil, false
	}
	types := make([]byte, n)
	for i := range types {
		if len(r) < 2 {
			return nil, false
		}
		types[i] = r[0]
		var ok bool
		if _, r, ok = lenencStr(r[2:]); !ok {
			return nil, false
		}
	}
	for i, t := range types {
		if nulls[i/8]&(1<<(i%8)) != 0 {
			continue
		}
		size := 0
		switch t {
		case 0x01:
			size = 1
		case 0x02, 0x0d:
			size = 2
		case 0x03, 0x04, 0x09:
			size = 4
		case 0x05, 0x08:
			size = 8
		case 0x06:
			size = 0
		case 0x07, 0x0a, 0x0b, 0x0c:
			if len(r) < 1 {
				return nil, false
			}
			size = 1 + int(r[0])
		default:
			var ok bool
			if _, r, ok = lenencStr(r); !ok {
				return nil, false
			}
			continue
		}
		if len(r) < size {
			return nil, false
		}
		r = r[size:]
	}
	return r, true
}
