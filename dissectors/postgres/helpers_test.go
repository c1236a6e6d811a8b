package postgres

import (
	"encoding/binary"
)

// msg builds a typed message.
func msg(t byte, body ...[]byte) []byte {
	var b []byte
	for _, x := range body {
		b = append(b, x...)
	}
	out := []byte{t, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(len(b)+4))
	return append(out, b...)
}

func cs(s string) []byte { return append([]byte(s), 0) }

func u16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }

func u32(v int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func startup(params ...string) []byte {
	b := u32(codeProtocol3)
	for _, p := range params {
		b = append(b, cs(p)...)
	}
	b = append(b, 0)
	return append(u32(len(b)+4), b...)
}

func sslRequest() []byte { return append(u32(8), u32(codeSSL)...) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// loginOK is a backend's answer to a successful startup.
func loginOK() []byte {
	return cat(msg('R', u32(0)), msg('S', cs("server_version"), cs("16.1")), msg('K', u32(42), u32(7)), msg('Z', []byte("I")))
}

func rowDesc(cols ...string) []byte {
	b := u16(len(cols))
	for _, c := range cols {
		b = append(b, cs(c)...)
		b = append(b, make([]byte, 18)...)
	}
	return msg('T', b)
}

func dataRow(vals ...string) []byte {
	b := u16(len(vals))
	for _, v := range vals {
		b = append(b, u32(len(v))...)
		b = append(b, v...)
	}
	return msg('D', b)
}

func errResp(code, text string) []byte {
	return msg('E', []byte("SERROR\x00VERROR\x00C"+code+"\x00M"+text+"\x00\x00"))
}

func parse(name, sql string) []byte { return msg('P', cs(name), cs(sql), u16(0)) }

func bindMsg(portal, stmt string, vals ...string) []byte {
	b := cat(cs(portal), cs(stmt), u16(0), u16(len(vals)))
	for _, v := range vals {
		b = append(b, u32(len(v))...)
		b = append(b, v...)
	}
	return msg('B', b, u16(0))
}

func execute(portal string) []byte { return msg('E', cs(portal), u32(0)) }
