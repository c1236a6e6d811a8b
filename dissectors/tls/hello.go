package tls

import "errors"

var errShort = errors.New("truncated")

// reader walks a handshake message without copying it.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = errShort
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() int {
	v := r.bytes(1)
	if v == nil {
		return 0
	}
	return int(v[0])
}

func (r *reader) u16() int {
	v := r.bytes(2)
	if v == nil {
		return 0
	}
	return int(v[0])<<8 | int(v[1])
}

// vec reads a vector with an n-byte length prefix.
func (r *reader) vec(n int) *reader {
	l := 0
	switch n {
	case 1:
		l = r.u8()
	case 2:
		l = r.u16()
	}
	b := r.bytes(l)
	return &reader{b: b, err: r.err}
}

// clientHello holds what the record and the fingerprints need.
type clientHello struct {
	version    int
	ciphers    []int // as offered, GREASE included
	extensions []int // in order, GREASE included
	sni        string
	hasSNI     bool
	alpn       []string
	versions   []int // supported_versions, GREASE included
	groups     []int
	points     []int
	sigAlgs    []int
}

func parseClientHello(body []byte) (*clientHello, error) {
	r := &reader{b: body}
	ch := &clientHello{version: r.u16()}
	r.bytes(32) // random
	r.vec(1)    // legacy_session_id
	cs := r.vec(2)
	for cs.err == nil && len(cs.b) >= 2 {
		ch.ciphers = append(ch.ciphers, cs.u16())
	}
	r.vec(1) // compression methods
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) == 0 {
		return ch, nil // no extensions: TLS 1.0-era hellos
	}
	exts := r.vec(2)
	if exts.err != nil {
		return nil, exts.err
	}
	for len(exts.b) > 0 {
		typ := exts.u16()
		data := exts.vec(2)
		if exts.err != nil || data.err != nil {
			return nil, errShort
		}
		ch.extensions = append(ch.extensions, typ)
		switch typ {
		case 0: // server_name
			ch.hasSNI = true
			list := data.vec(2)
			for list.err == nil && len(list.b) > 0 {
				kind := list.u8()
				name := list.vec(2)
				if list.err == nil && kind == 0 && ch.sni == "" {
					ch.sni = string(name.b)
				}
			}
		case 16: // application_layer_protocol_negotiation
			list := data.vec(2)
			for list.err == nil && len(list.b) > 0 {
				p := list.vec(1)
				if list.err == nil && len(ch.alpn) < maxList {
					ch.alpn = append(ch.alpn, string(p.b))
				}
			}
		case 43: // supported_versions
			ch.versions = u16s(data.vec(1))
		case 10: // supported_groups
			ch.groups = u16s(data.vec(2))
		case 11: // ec_point_formats
			pf := data.vec(1)
			for pf.err == nil && len(pf.b) > 0 {
				ch.points = append(ch.points, pf.u8())
			}
		case 13: // signature_algorithms
			ch.sigAlgs = u16s(data.vec(2))
		}
	}
	return ch, nil
}

func u16s(r *reader) []int {
	var out []int
	for r.err == nil && len(r.b) >= 2 && len(out) < 4*maxList {
		out = append(out, r.u16())
	}
	return out
}

// helloRetryRandom marks a ServerHello as a HelloRetryRequest (RFC 8446
// §4.1.3): SHA-256 of "HelloRetryRequest".
var helloRetryRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

type serverHello struct {
	version int // negotiated: supported_versions when present
	cipher  int
	alpn    string
	retry   bool
}

func parseServerHello(body []byte) (*serverHello, error) {
	r := &reader{b: body}
	sh := &serverHello{version: r.u16()}
	random := r.bytes(32)
	r.vec(1)
	sh.cipher = r.u16()
	r.u8() // compression method
	if r.err != nil {
		return nil, r.err
	}
	sh.retry = [32]byte(random) == helloRetryRandom
	if len(r.b) == 0 {
		return sh, nil
	}
	exts := r.vec(2)
	for exts.err == nil && len(exts.b) > 0 {
		typ := exts.u16()
		data := exts.vec(2)
		if exts.err != nil {
			break
		}
		switch typ {
		case 43:
			if v := data.u16(); data.err == nil {
				sh.version = v
			}
		case 16:
			list := data.vec(2)
			if p := list.vec(1); list.err == nil {
				sh.alpn = string(p.b)
			}
		}
	}
	if exts.err != nil {
		return nil, exts.err
	}
	return sh, nil
}

// grease reports the reserved GREASE values (RFC 8701), which fingerprints
// and counts ignore.
func grease(v int) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }
