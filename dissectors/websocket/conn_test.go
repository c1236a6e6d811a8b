package websocket

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

const (
	cli = sdk.DirA
	srv = sdk.DirB
)

// frame builds a frame; a client frame is masked with a fixed key.
func frame(fin bool, op byte, masked bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	var mb byte
	if masked {
		mb = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, mb|byte(n))
	case n < 1<<16:
		out = append(out, mb|126, byte(n>>8), byte(n))
	default:
		out = append(out, mb|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	p := append([]byte(nil), payload...)
	if masked {
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		out = append(out, key[:]...)
		for i := range p {
			p[i] ^= key[i&3]
		}
	}
	return append(out, p...)
}

func brief(r *sdk.Record) string {
	s := fmt.Sprintf("%s %d %s", r.Method, r.Status, r.Request.Body)
	if r.RequestDir == cli {
		s = "c:" + s
	} else {
		s = "s:" + s
	}
	if r.Response != nil {
		s += " -> " + fmt.Sprint(r.Response.Fields["websocket_opcode"])
	}
	if r.Error != "" {
		s += " !" + r.Error
	}
	return s
}

func TestMessages(t *testing.T) {
	closeBody := append([]byte{0x03, 0xe8}, "bye"...)
	big := strings.Repeat("x", 70000)
	tests := []struct {
		name  string
		feeds []struct {
			dir  sdk.Direction
			data []byte
		}
		want []string
	}{}
	add := func(name string, want []string, feeds ...any) {
		tt := struct {
			name  string
			feeds []struct {
				dir  sdk.Direction
				data []byte
			}
			want []string
		}{name: name, want: want}
		for i := 0; i < len(feeds); i += 2 {
			tt.feeds = append(tt.feeds, struct {
				dir  sdk.Direction
				data []byte
			}{feeds[i].(sdk.Direction), feeds[i+1].([]byte)})
		}
		tests = append(tests, tt)
	}
	add("text both ways", []string{"c:TEXT 0 hello", "s:TEXT 0 world"},
		cli, frame(true, opText, true, []byte("hello")), srv, frame(true, opText, false, []byte("world")))
	add("binary", []string{"s:BINARY 0 AAEC"}, srv, frame(true, opBinary, false, []byte{0, 1, 2}))
	add("fragmented with ping inside", []string{"c:TEXT 0 abcdef", "c:PING 0  -> 10"},
		cli, append(append(frame(false, opText, true, []byte("abc")), frame(true, opPing, true, nil)...), frame(true, opCont, true, []byte("def"))...),
		srv, frame(true, opPong, false, nil))
	add("close", []string{"c:CLOSE 1000 ", "s:CLOSE 1000 "},
		cli, frame(true, opClose, true, closeBody), srv, frame(true, opClose, false, closeBody))
	add("16-bit and 64-bit lengths", []string{"s:TEXT 0 " + big[:16<<10], "c:TEXT 0 " + big[:300]},
		srv, frame(true, opText, false, []byte(big)), cli, frame(true, opText, true, []byte(big[:300])))
	add("unanswered ping", []string{"c:PING 0 p !no response captured"}, cli, frame(true, opPing, true, []byte("p")))
	add("unsolicited pong", []string{"s:PONG 0 "}, srv, frame(true, opPong, false, nil))
	add("garbage", []string{}, srv, []byte{0xff, 0xff, 0xff})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []int{0, 1, 7} {
				dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
				ts := int64(1)
				for _, f := range tt.feeds {
					if split == 0 {
						dr.Feed(f.dir, f.data, ts)
						ts++
						continue
					}
					for i := 0; i < len(f.data); i += split {
						dr.Feed(f.dir, f.data[i:min(i+split, len(f.data))], ts)
						ts++
					}
				}
				dr.Close(ts)
				got := []string{}
				for _, r := range dr.Records {
					got = append(got, brief(r))
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("split %d:\n got  %q\n want %q", split, got, tt.want)
				}
			}
		})
	}
}

func TestCloseFields(t *testing.T) {
	dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: true})
	dr.Feed(cli, frame(true, opClose, true, append([]byte{0x03, 0xf3}, "oops"...)), 5)
	dr.Close(6)
	r := dr.Records[0]
	if r.Status != 1011 || r.StatusText != "oops" || !r.Failed || r.Request.Fields["websocket_close_code"] != 1011 || r.Request.Fields["websocket_close_reason"] != "oops" {
		t.Fatalf("%+v %+v", r, r.Request.Fields)
	}
}

func TestProbe(t *testing.T) {
	d := New()
	tests := []struct {
		name       string
		data       []byte
		conf       uint8
		fromServer bool
	}{
		{"server binary", frame(true, opBinary, false, []byte{1, 2, 3, 4}), 45, true},
		{"client text", frame(true, opText, true, []byte("hi")), 45, false},
		{"partial payload", frame(true, opText, false, []byte("hello"))[:4], 40, true},
		{"continuation first", frame(true, opCont, false, []byte("x")), 30, true},
		{"bad utf8 text", frame(true, opText, false, []byte{0xff, 0xfe}), 0, false},
		{"rsv2", []byte{0xa1, 0x00}, 0, false},
		{"unknown opcode", []byte{0x83, 0x00}, 0, false},
		{"long ping", append([]byte{0x89, 126, 0, 200}, make([]byte, 200)...), 0, false},
		{"http", []byte("GET / HTTP/1.1\r\n"), 0, false},
		{"tls", []byte{0x16, 0x03, 0x01, 0x02, 0x00}, 0, false},
	}
	for _, tt := range tests {
		p := d.Probe(sdk.DirA, tt.data)
		if p.Confidence != tt.conf || p.Confidence > 0 && p.FromServer != tt.fromServer || p.Confidence >= 50 {
			t.Errorf("%s: %+v", tt.name, p)
		}
	}
}
