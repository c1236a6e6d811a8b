package mysql

import (
	"bytes"
	"compress/zlib"
)

// pkt builds a packet with sequence id seq.
func pkt(seq byte, payload ...[]byte) []byte {
	p := bytes.Join(payload, nil)
	n := len(p)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, p...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func le(v uint32, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

func lstr(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// greetingPkt is a protocol-10 handshake offering caps.
func greetingPkt(caps uint32) []byte {
	return pkt(0, []byte{0x0a}, []byte("8.0.32\x00"), le(7, 4), []byte("abcdefgh\x00"), le(caps, 2), []byte{0xff}, le(2, 2), le(caps>>16, 2), []byte{21}, make([]byte, 10), []byte("ijklmnopqrst\x00"), []byte("mysql_native_password\x00"))
}

func responsePkt(caps uint32, user, db string) []byte {
	return pkt(1, le(caps, 4), le(1<<24, 4), []byte{33}, make([]byte, 23), []byte(user+"\x00"), []byte{20}, make([]byte, 20), []byte(db+"\x00"), []byte("mysql_native_password\x00"))
}

func okPkt(seq byte, affected, id byte) []byte {
	return pkt(seq, []byte{0, affected, id, 2, 0, 0, 0})
}

func errPkt(seq byte, code uint32, state, msg string) []byte {
	return pkt(seq, []byte{0xff}, le(code, 2), []byte("#"+state+msg))
}

func eofPkt(seq byte) []byte { return pkt(seq, []byte{0xfe, 0, 0, 2, 0}) }

func colDef(seq byte, name string) []byte {
	return pkt(seq, lstr("def"), lstr("db"), lstr("t"), lstr("t"), lstr(name), lstr(name), []byte{0x0c, 33, 0, 0xff, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0})
}

func rowPkt(seq byte, vals ...string) []byte {
	var b []byte
	for _, v := range vals {
		b = append(b, lstr(v)...)
	}
	return pkt(seq, b)
}

func query(sql string) []byte { return pkt(0, []byte{comQuery}, []byte(sql)) }

// compress wraps raw packets in one compressed packet.
func compress(seq byte, raw []byte, deflate bool) []byte {
	if !deflate {
		return append([]byte{byte(len(raw)), byte(len(raw) >> 8), byte(len(raw) >> 16), seq, 0, 0, 0}, raw...)
	}
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(raw)
	w.Close()
	n, u := z.Len(), len(raw)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq, byte(u), byte(u >> 8), byte(u >> 16)}, z.Bytes()...)
}
