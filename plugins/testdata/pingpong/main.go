// Command pingpong is the test plugin of the plugin store: a dissector for
// a made-up line protocol that no built-in knows. The client sends
// "PING name\n", the server answers "PONG n\n" with a count. Each exchange
// becomes a record with the fields pingpong_name and pingpong_n.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o pingpong.wasm ./plugins/testdata/pingpong
package main

import (
	"bytes"
	"strconv"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

type dissector struct{}

func (dissector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name: "pingpong", Version: "1.0.0", Description: "PING/PONG test protocol",
		Protocols: []string{"pingpong"}, Transports: []string{"tcp"},
		Fields: []sdk.FieldSpec{
			{Name: "pingpong_name", Type: "string", Description: "the name a PING carried"},
			{Name: "pingpong_n", Type: "int", Description: "the count a PONG answered"},
		},
	}
}

func (dissector) Probe(_ sdk.Direction, data []byte) sdk.Probe {
	switch {
	case bytes.HasPrefix(data, []byte("PING ")):
		return sdk.Probe{Confidence: 90}
	case bytes.HasPrefix(data, []byte("PONG ")):
		return sdk.Probe{Confidence: 90, FromServer: true}
	case len(data) < 5 && (bytes.HasPrefix([]byte("PING "), data) || bytes.HasPrefix([]byte("PONG "), data)):
		return sdk.Probe{NeedMore: true}
	}
	return sdk.Probe{}
}

func (dissector) Open(_ sdk.ConnInfo, out sdk.Emitter) sdk.Conn { return &conn{out: out} }

type ping struct {
	name string
	at   int64
}

type conn struct {
	out     sdk.Emitter
	pending []ping
}

func (c *conn) Feed(dir sdk.Direction, data []byte, first, last int64) (int, int) {
	used := 0
	for {
		i := bytes.IndexByte(data[used:], '\n')
		if i < 0 {
			return used, 0
		}
		line := string(data[used : used+i])
		used += i + 1
		if dir == sdk.DirA {
			name, ok := cutPrefix(line, "PING ")
			if !ok {
				return -1, 0
			}
			c.pending = append(c.pending, ping{name, first})
			continue
		}
		arg, ok := cutPrefix(line, "PONG ")
		n, err := strconv.Atoi(arg)
		if !ok || err != nil || len(c.pending) == 0 {
			return -1, 0
		}
		p := c.pending[0]
		c.pending = c.pending[1:]
		r := &sdk.Record{Protocol: "pingpong", Method: "PING", Path: p.name, Status: 200, StatusText: "PONG",
			Timestamp: time.Unix(0, p.at), End: time.Unix(0, last), RequestDir: sdk.DirA,
			Request: &sdk.Message{}, Response: &sdk.Message{}}
		r.Request.Set("pingpong_name", p.name)
		r.Response.Set("pingpong_n", n)
		c.out.Emit(r)
	}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) < len(p) || s[:len(p)] != p {
		return "", false
	}
	return s[len(p):], true
}

func (c *conn) Gap(sdk.Direction, int, int64) { c.pending = nil }
func (c *conn) Close(int64)                   {}

func init() { sdk.Register(dissector{}) }

func main() {}
