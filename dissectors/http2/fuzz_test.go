package http2

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// conversation is a connection with most frame types, for fuzz seeds.
func conversation() (client, server []byte) {
	c, s := newSide(), newSide()
	client = cat([]byte(preface), settings(1, 8192, 4, 65535), get(c, 1, "/a"),
		c.headers(3, false, ":method", "POST", ":scheme", "http", ":path", "/pkg.Svc/M", "content-type", "application/grpc"),
		data(3, true, grpcMsg([]byte("hi"))), frame(framePing, 0, 0, make([]byte, 8)), rst(5, 8),
		frame(frameWindowUpdate, 0, 0, []byte{0, 1, 0, 0}), frame(framePriority, 0, 7, []byte{0, 0, 0, 1, 9}))
	pp := append([]byte{0, 0, 0, 2}, s.block(":method", "GET", ":path", "/p", ":scheme", "http")...)
	server = cat(settings(5, 20000), frame(framePushPromise, flagEndHeaders, 1, pp),
		s.headers(1, false, ":status", "200", "content-encoding", "gzip"), data(1, true, []byte{0x1f, 0x8b, 8, 0}),
		s.headers(2, true, ":status", "204"),
		s.headers(3, false, ":status", "200", "content-type", "application/grpc"), data(3, false, grpcMsg([]byte("yo"))),
		s.headers(3, true, "grpc-status", "5", "grpc-message", "not%20found"),
		// A gzip-compressed gRPC message: "hi".
		s.headers(5, false, ":status", "200", "content-type", "application/grpc", "grpc-encoding", "gzip"),
		data(5, false, grpcFlagged([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xca\xc8\x04\x04\x00\x00\xff\xff\xac\x2a\x93\xd8\x02\x00\x00\x00"))),
		s.headers(5, true, "grpc-status", "0"), goaway(5, 2))
	return client, server
}

// dohConversation is DNS over HTTPS, GET and POST, for fuzz seeds: a
// query for example.com A and its answer.
func dohConversation() (client, server []byte) {
	q := []byte("\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01")
	a := append([]byte("\x00\x00\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"),
		"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x01"...)
	c, s := newSide(), newSide()
	client = cat([]byte(preface), settings(), dohGet(c, 1, q), dohPost(c, 3, q))
	server = cat(settings(), dohResponse(s, 3, a), dohResponse(s, 1, a))
	return client, server
}

func FuzzHTTP2(f *testing.F) {
	client, server := conversation()
	f.Add(client, server, []byte{0x10, 0x90, 0x05, 0x85}, true)
	f.Add(client, server, []byte{0x00}, false)
	f.Add(client, server, []byte{0x7f, 0xff, 0x4b, 0x01}, true)
	f.Add(client[24:], server[5:], []byte{0x3f, 0xbf, 0x41, 0xc1}, false)
	dohClient, dohServer := dohConversation()
	f.Add(dohClient, dohServer, []byte{0x10, 0x90, 0x05, 0x85}, true)
	f.Fuzz(func(t *testing.T, client, server, chunks []byte, oriented bool) {
		dr := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: oriented})
		// The same deliveries again, each one byte at a time: segmentation
		// must not change the records.
		bytewise := sdktest.Open(New(), sdk.ConnInfo{ID: 1, Oriented: oriented})
		ts := sdktest.Schedule(client, server, chunks, func(dir sdk.Direction, data []byte, lost bool, ts int64) {
			if lost {
				dr.Gap(dir, len(data), ts)
				bytewise.Gap(dir, len(data), ts)
				return
			}
			dr.Feed(dir, data, ts)
			for _, c := range data {
				bytewise.Feed(dir, []byte{c}, ts)
			}
		})
		dr.Close(ts)
		bytewise.Close(ts)
		for _, m := range []string{dr.Misbehaved, bytewise.Misbehaved} {
			if m != "" {
				t.Fatal(m)
			}
		}
		if !reflect.DeepEqual(dr.Records, bytewise.Records) {
			for i := range max(len(dr.Records), len(bytewise.Records)) {
				if i >= len(dr.Records) || i >= len(bytewise.Records) || !reflect.DeepEqual(dr.Records[i], bytewise.Records[i]) {
					t.Fatalf("record %d depends on segmentation:\n whole    %+v\n bytewise %+v", i, at(dr.Records, i), at(bytewise.Records, i))
				}
			}
		}
		for _, r := range dr.Records {
			if r.Protocol != "http2" && r.Protocol != "grpc" && r.Protocol != "dns" {
				t.Fatalf("protocol %q", r.Protocol)
			}
			for _, m := range []*sdk.Message{r.Request, r.Response} {
				if m != nil && (m.Size < 0 || m.BodySize < 0 || len(m.Body) > 4*bodyPreview/3+4) {
					t.Fatalf("message sizes %d %d preview %d", m.Size, m.BodySize, len(m.Body))
				}
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}

func at(rs []*sdk.Record, i int) any {
	if i < len(rs) {
		return rs[i]
	}
	return nil
}
