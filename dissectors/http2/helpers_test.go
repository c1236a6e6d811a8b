package http2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

const (
	cli = sdk.DirA // the client on an oriented connection
	srv = sdk.DirB
)

// side builds the frames one endpoint sends, with its own HPACK encoder.
type side struct {
	buf bytes.Buffer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newSide() *side {
	s := &side{}
	s.enc = hpack.NewEncoder(&s.hb)
	return s
}

func frame(typ, flags uint8, stream uint32, payload []byte) []byte {
	b := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

// block encodes header fields given as name, value pairs.
func (s *side) block(kv ...string) []byte {
	s.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		s.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(s.hb.Bytes())
}

// headers returns one HEADERS frame.
func (s *side) headers(stream uint32, end bool, kv ...string) []byte {
	flags := uint8(flagEndHeaders)
	if end {
		flags |= flagEndStream
	}
	return frame(frameHeaders, flags, stream, s.block(kv...))
}

func data(stream uint32, end bool, p []byte) []byte {
	var flags uint8
	if end {
		flags = flagEndStream
	}
	return frame(frameData, flags, stream, p)
}

func settings(kv ...uint32) []byte {
	var p []byte
	for i := 0; i+1 < len(kv); i += 2 {
		p = binary.BigEndian.AppendUint16(p, uint16(kv[i]))
		p = binary.BigEndian.AppendUint32(p, kv[i+1])
	}
	return frame(frameSettings, 0, 0, p)
}

func rst(stream, code uint32) []byte {
	return frame(frameRSTStream, 0, stream, binary.BigEndian.AppendUint32(nil, code))
}

func goaway(last, code uint32) []byte {
	p := binary.BigEndian.AppendUint32(nil, last)
	return frame(frameGoAway, 0, 0, binary.BigEndian.AppendUint32(p, code))
}

func grpcMsg(p []byte) []byte {
	b := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(p)))
	return append(b, p...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func open(oriented bool) *sdktest.Driver {
	return sdktest.Open(New(), sdk.ConnInfo{ID: 1, PortA: 40000, PortB: 8080, Oriented: oriented})
}

// brief renders the fields most tests care about in one comparable line.
func brief(r *sdk.Record) string {
	s := strings.Join(strings.Fields(fmt.Sprintf("%s %s %s -> %d", r.Protocol, r.Method, r.Path, r.Status)), " ")
	if r.Response == nil {
		s = strings.Join(strings.Fields(fmt.Sprintf("%s %s %s -> none", r.Protocol, r.Method, r.Path)), " ")
	}
	if r.StatusText != "" {
		s += " " + r.StatusText
	}
	if r.Failed {
		s += " failed"
	}
	return s
}

func wantBriefs(t *testing.T, dr *sdktest.Driver, want ...string) {
	t.Helper()
	got := make([]string, len(dr.Records))
	for i, r := range dr.Records {
		got[i] = brief(r)
	}
	if len(want) == 0 {
		want = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records:\n got  %q\n want %q", got, want)
	}
}
