package postgres

import (
	"encoding/base64"
	"encoding/binary"
)

// parseStartup reads the key/value pairs of a StartupMessage body (after
// the protocol code). ok requires the closing empty key.
func parseStartup(b []byte) (map[string]string, bool) {
	params := map[string]string{}
	for {
		k, rest, ok := cstring(b)
		if !ok || !printable(k) {
			return nil, false
		}
		if len(k) == 0 {
			return params, len(rest) == 0 && len(params) > 0
		}
		v, rest, ok := cstring(rest)
		if !ok || !printable(v) || len(params) >= 64 {
			return nil, false
		}
		params[string(k)] = string(v)
		b = rest
	}
}

// pgError is the part of an ErrorResponse a record keeps.
type pgError struct {
	severity, code, message, detail string
}

func (e *pgError) fields() map[string]any {
	m := map[string]any{"severity": e.severity, "code": e.code, "message": e.message}
	if e.detail != "" {
		m["detail"] = e.detail
	}
	return m
}

// parseFields reads the fields of an ErrorResponse or NoticeResponse.
func parseFields(b []byte) (*pgError, bool) {
	e := &pgError{}
	n := 0
	for len(b) > 0 {
		t := b[0]
		if t == 0 {
			return e, len(b) == 1 && n > 0
		}
		v, rest, ok := cstring(b[1:])
		if !ok || !printable(v) {
			return nil, false
		}
		switch t {
		case 'V':
			e.severity = string(v)
		case 'S':
			if e.severity == "" {
				e.severity = string(v)
			}
		case 'C':
			e.code = string(v)
		case 'M':
			e.message = string(v)
		case 'D':
			e.detail = string(v)
		}
		n++
		b = rest
	}
	return nil, false
}

// parseRowDescription returns the column names of a RowDescription.
func parseRowDescription(b []byte) ([]string, bool) {
	if len(b) < 2 {
		return nil, false
	}
	n := be16(b)
	b = b[2:]
	cols := make([]string, 0, min(n, maxColumns))
	for range n {
		name, rest, ok := cstring(b)
		if !ok || len(rest) < 18 {
			return nil, false
		}
		if len(cols) < maxColumns {
			cols = append(cols, string(name))
		}
		b = rest[18:]
	}
	return cols, len(b) == 0
}

// bind is what a Bind message says.
type bind struct {
	portal, statement string
	params            []any
}

// parseBind reads a Bind message, previewing its parameter values: text
// as text, binary as base64, NULL as nil.
func parseBind(b []byte) (bind, bool) {
	var out bind
	p, rest, ok := cstring(b)
	if !ok {
		return out, false
	}
	s, rest, ok := cstring(rest)
	if !ok {
		return out, false
	}
	out.portal, out.statement = string(p), string(s)
	if len(rest) < 2 {
		return out, false
	}
	nf := be16(rest)
	rest = rest[2:]
	if len(rest) < 2*nf+2 {
		return out, false
	}
	formats := rest[:2*nf]
	rest = rest[2*nf:]
	np := be16(rest)
	rest = rest[2:]
	for i := range np {
		if len(rest) < 4 {
			return out, false
		}
		l := int(int32(binary.BigEndian.Uint32(rest)))
		rest = rest[4:]
		if l == -1 {
			if i < maxParams {
				out.params = append(out.params, nil)
			}
			continue
		}
		if l < 0 || l > len(rest) {
			return out, false
		}
		if i < maxParams {
			v := rest[:min(l, maxParamLen)]
			binaryFmt := nf == 1 && be16(formats) == 1 || nf > i && be16(formats[2*i:]) == 1
			if binaryFmt || !printable(v) {
				out.params = append(out.params, base64.StdEncoding.EncodeToString(v))
			} else {
				out.params = append(out.params, string(v))
			}
		}
		rest = rest[l:]
	}
	return out, true
}
