package http2

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func get(c *side, stream uint32, path string) []byte {
	return c.headers(stream, true, ":method", "GET", ":scheme", "http", ":path", path, ":authority", "example.com", "user-agent", "test/1.0")
}

func TestSimpleGet(t *testing.T) {
	c, s := newSide(), newSide()
	dr := open(true)
	dr.Feed(cli, cat([]byte(preface), settings(), get(c, 1, "/index.html?q=1")), 100)
	dr.Feed(srv, cat(settings(), s.headers(1, false, ":status", "200", "content-type", "text/plain"), data(1, true, []byte("hello"))), 200)
	dr.Close(300)
	wantBriefs(t, dr, "http2 GET /index.html?q=1 -> 200")
	r := dr.Records[0]
	if r.Timestamp.UnixNano() != 100 || r.End.UnixNano() != 200 || r.RequestDir != cli {
		t.Fatalf("times %d %d dir %d", r.Timestamp.UnixNano(), r.End.UnixNano(), r.RequestDir)
	}
	if r.Response.Body != "hello" || r.Response.BodySize != 5 || r.Error != "" {
		t.Fatalf("response %+v error %q", r.Response, r.Error)
	}
	if v, _ := r.Request.Header(":authority"); v != "example.com" {
		t.Fatalf("authority %q", v)
	}
	if r.Request.Fields["http2_stream_id"] != uint32(1) {
		t.Fatalf("fields %v", r.Request.Fields)
	}
	if r.Summary != "GET /index.html?q=1 → 200" {
		t.Fatalf("summary %q", r.Summary)
	}
}

func TestMultiplexedAndDynamicTable(t *testing.T) {
	c, s := newSide(), newSide()
	dr := open(true)
	// Both requests share header fields, so the second one is mostly
	// dynamic-table references.
	dr.Feed(cli, cat([]byte(preface), get(c, 1, "/a"), get(c, 3, "/b"), c.headers(5, false, ":method", "POST", ":scheme", "http", ":path", "/c", ":authority", "example.com"), data(5, false, []byte("part1")), data(5, true, []byte("part2"))), 1)
	dr.Feed(srv, cat(s.headers(3, false, ":status", "404"), s.headers(1, false, ":status", "200"), data(3, true, []byte("nf"))), 2)
	dr.Feed(srv, cat(data(1, true, []byte("ok")), s.headers(5, true, ":status", "201")), 3)
	dr.Close(4)
	wantBriefs(t, dr, "http2 GET /b -> 404 failed", "http2 GET /a -> 200", "http2 POST /c -> 201")
	if b := dr.Records[2].Request.Body; b != "part1part2" {
		t.Fatalf("request body %q", b)
	}
}

func TestContinuationPaddingPriority(t *testing.T) {
	c, s := newSide(), newSide()
	blk := c.block(":method", "GET", ":scheme", "http", ":path", "/long", ":authority", "h", "x-big", strings.Repeat("v", 300))
	// HEADERS padded with priority, then two CONTINUATIONs.
	p := append([]byte{3}, 0x80, 0, 0, 1, 16)
	p = append(p, blk[:10]...)
	p = append(p, 0, 0, 0)
	hdr := frame(frameHeaders, flagPadded|flagPriority|flagEndStream, 1, p)
	dr := open(true)
	dr.Feed(cli, cat([]byte(preface), hdr, frame(frameContinuation, 0, 1, blk[10:20]), frame(frameContinuation, flagEndHeaders, 1, blk[20:])), 1)
	padded := frame(frameData, flagPadded|flagEndStream, 1, append(append([]byte{4}, "body"...), 0, 0, 0, 0))
	dr.Feed(srv, cat(s.headers(1, false, ":status", "200"), padded), 2)
	dr.Close(3)
	wantBriefs(t, dr, "http2 GET /long -> 200")
	if v, _ := dr.Records[0].Request.Header("x-big"); len(v) != 300 {
		t.Fatalf("x-big %d", len(v))
	}
	if dr.Records[0].Response.Body != "body" {
		t.Fatalf("body %q", dr.Records[0].Response.Body)
	}
}

func TestResetGoAwayAndClose(t *testing.T) {
	c, s := newSide(), newSide()
	dr := open(true)
	dr.Feed(cli, cat([]byte(preface), get(c, 1, "/slow"), get(c, 3, "/refused"), get(c, 5, "/late"), get(c, 7, "/open")), 1)
	dr.Feed(srv, cat(s.headers(1, false, ":status", "200"), data(1, false, []byte("par"))), 2)
	dr.Feed(cli, rst(1, 8), 3)
	dr.Feed(srv, rst(3, 7), 4)
	dr.Feed(srv, goaway(5, 0), 5)
	dr.Close(6)
	wantBriefs(t, dr,
		"http2 GET /slow -> 200 CANCEL failed",
		"http2 GET /refused -> none REFUSED_STREAM failed",
		"http2 GET /open -> none failed",
		"http2 GET /late -> none")
	if dr.Records[0].Request.Fields["http2_error_code"] != "CANCEL" {
		t.Fatalf("fields %v", dr.Records[0].Request.Fields)
	}
	if !strings.Contains(dr.Records[2].Error, "GOAWAY") || dr.Records[3].Error != "no response captured" {
		t.Fatalf("errors %q / %q", dr.Records[2].Error, dr.Records[3].Error)
	}
}

func TestGRPCUnary(t *testing.T) {
	c, s := newSide(), newSide()
	dr := open(true)
	dr.Feed(cli, cat([]byte(preface), c.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/helloworld.Greeter/SayHello", ":authority", "h", "content-type", "application/grpc", "te", "trailers"), data(1, true, grpcMsg([]byte("\x0a\x03bob")))), 1)
	dr.Feed(srv, cat(s.headers(1, false, ":status", "200", "content-type", "application/grpc"), data(1, false, grpcMsg([]byte("\x0a\x09hello bob")))), 2)
	dr.Feed(srv, s.headers(1, true, "grpc-status", "0", "grpc-message", ""), 3)
	dr.Close(4)
	wantBriefs(t, dr, "grpc POST /helloworld.Greeter/SayHello -> 0 OK")
	r := dr.Records[0]
	if r.Request.Fields["grpc_service"] != "helloworld.Greeter" || r.Request.Fields["grpc_method"] != "SayHello" ||
		r.Request.Fields["grpc_request_messages"] != 1 || r.Response.Fields["grpc_response_messages"] != 1 || r.Response.Fields["grpc_status"] != 0 {
		t.Fatalf("fields %v %v", r.Request.Fields, r.Response.Fields)
	}
	if r.End.UnixNano() != 3 || r.Response.Encoding != "base64" {
		t.Fatalf("end %d encoding %q", r.End.UnixNano(), r.Response.Encoding)
	}
}

func TestGRPCStreamingAndErrors(t *testing.T) {
	c, s := newSide(), newSide()
	dr := open(true)
	call := func(id uint32, path string) []byte {
		return c.headers(id, false, ":method", "POST", ":scheme", "http", ":path", path, "content-type", "application/grpc+proto")
	}
	msgs := cat(grpcMsg([]byte("a")), grpcMsg(nil), grpcMsg([]byte("ccc")))
	dr.Feed(cli, cat([]byte(preface), call(1, "/pkg.Svc/Stream"), data(1, false, msgs[:4]), data(1, true, msgs[4:])), 1)
	dr.Feed(cli, cat(call(3, "/pkg.Svc/Missing"), data(1, true, nil)), 1)
	dr.Feed(cli, cat(call(5, "/pkg.Svc/Dropped"), data(5, true, grpcMsg([]byte("x")))), 1)
	dr.Feed(srv, cat(s.headers(1, false, ":status", "200", "content-type", "application/grpc"),
		data(1, false, cat(grpcMsg([]byte("1")), grpcMsg([]byte("2")))),
		s.headers(1, true, "grpc-status", "13", "grpc-message", "boom%20here")), 2)
	// Trailers-only response.
	dr.Feed(srv, s.headers(3, true, ":status", "200", "content-type", "application/grpc", "grpc-status", "12"), 2)
	dr.Feed(cli, data(3, true, nil), 3)
	dr.Feed(srv, cat(s.headers(5, false, ":status", "200", "content-type", "application/grpc"), data(5, false, grpcMsg([]byte("partial")))), 4)
	dr.Close(5)
	wantBriefs(t, dr,
		"grpc POST /pkg.Svc/Stream -> 13 INTERNAL failed",
		"grpc POST /pkg.Svc/Missing -> 12 UNIMPLEMENTED failed",
		"grpc POST /pkg.Svc/Dropped -> none")
	r := dr.Records[0]
	if r.Request.Fields["grpc_request_messages"] != 3 || r.Response.Fields["grpc_response_messages"] != 2 || r.Response.Fields["grpc_message"] != "boom here" {
		t.Fatalf("fields %v %v", r.Request.Fields, r.Response.Fields)
	}
	if !strings.Contains(dr.Records[2].Error, "no grpc-status captured (HTTP :status 200)") {
		t.Fatalf("error %q", dr.Records[2].Error)
	}
}

func TestH2CUpgradeStreamOne(t *testing.T) {
	c, s := newSide(), newSide()
	dr := open(true)
	// After the 101 the client sends the preface; the answer to the
	// HTTP/1.1 request comes on stream 1.
	dr.Feed(cli, cat([]byte(preface), settings(), get(c, 3, "/next")), 1)
	dr.Feed(srv, cat(settings(), s.headers(1, false, ":status", "200"), data(1, true, []byte("upgraded")), s.headers(3, true, ":status", "404")), 2)
	dr.Close(3)
	wantBriefs(t, dr, "http2 -> 200", "http2 GET /next -> 404 failed")
	if !strings.Contains(dr.Records[0].Error, "Upgrade") || dr.Records[0].Timestamp.UnixNano() != 2 {
		t.Fatalf("record %+v", dr.Records[0])
	}
}

func TestMidStreamUnknownTableEntries(t *testing.T) {
	c, s := newSide(), newSide()
	// Warm both tables, then capture only what follows.
	get(c, 1, "/warm")
	s.headers(1, false, ":status", "200", "x-trace", "abc")
	dr := open(false)
	dr.Feed(cli, cat(get(c, 3, "/after"), data(3, true, nil)), 1)
	dr.Feed(srv, cat(s.headers(3, false, ":status", "200", "x-trace", "abc"), data(3, true, []byte("x"))), 2)
	dr.Close(3)
	// :path is a literal with a static name, so it survives; :authority
	// and user-agent were table references.
	wantBriefs(t, dr, "http2 GET /after -> 200")
	r := dr.Records[0]
	if r.Request.Fields["hpack_unknown_fields"] == nil || !strings.Contains(r.Error, "HPACK") {
		t.Fatalf("record %+v %v", r, r.Request.Fields)
	}
	if v, _ := r.Request.Header(":path"); v != "/after" {
		t.Fatalf("literal :path lost: %q", v)
	}
}

func TestGapInsideDataAndResync(t *testing.T) {
	c, s := newSide(), newSide()
	dr := open(true)
	dr.Feed(cli, cat([]byte(preface), get(c, 1, "/a"), get(c, 3, "/b")), 1)
	body := data(1, true, bytes.Repeat([]byte("z"), 100))
	dr.Feed(srv, cat(s.headers(1, false, ":status", "200"), body[:30]), 2)
	dr.Gap(srv, 50, 3)
	dr.Feed(srv, body[80:], 4)
	// A gap across frame boundaries: the response headers of stream 3 are
	// lost and the table starts over.
	dr.Gap(srv, 40, 5)
	dr.Feed(srv, cat([]byte("garbage!"), s.headers(5, false, ":status", "204"), data(5, true, nil)), 6)
	dr.Close(7)
	wantBriefs(t, dr, "http2 GET /a -> 200", "http2 -> 204", "http2 GET /b -> none")
	r := dr.Records[0]
	if r.Response.Fields["missing_bytes"] != int64(50) || r.Response.BodySize != 100 {
		t.Fatalf("response %+v", r.Response)
	}
}

func TestPushPromise(t *testing.T) {
	c, s := newSide(), newSide()
	dr := open(true)
	dr.Feed(cli, cat([]byte(preface), get(c, 1, "/")), 1)
	pp := append([]byte{0, 0, 0, 2}, s.block(":method", "GET", ":scheme", "http", ":path", "/style.css", ":authority", "h")...)
	dr.Feed(srv, cat(frame(framePushPromise, flagEndHeaders, 1, pp), s.headers(1, true, ":status", "200"), s.headers(2, false, ":status", "200"), data(2, true, []byte("p{}"))), 2)
	dr.Close(3)
	wantBriefs(t, dr, "http2 GET / -> 200", "http2 GET /style.css -> 200")
	if dr.Records[1].RequestDir != cli {
		t.Fatalf("pushed request dir %d", dr.Records[1].RequestDir)
	}
}

func TestGzipPreviewAndTableSize(t *testing.T) {
	c, s := newSide(), newSide()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write([]byte(`{"ok":true}`))
	w.Close()
	dr := open(true)
	// The client allows a larger table; the server's encoder uses it.
	s.enc.SetMaxDynamicTableSizeLimit(100000)
	s.enc.SetMaxDynamicTableSize(100000)
	dr.Feed(cli, cat([]byte(preface), settings(1, 100000), get(c, 1, "/z")), 1)
	dr.Feed(srv, cat(s.headers(1, false, ":status", "200", "content-encoding", "gzip", "x-long", strings.Repeat("q", 5000)), data(1, true, buf.Bytes())), 2)
	dr.Close(3)
	wantBriefs(t, dr, "http2 GET /z -> 200")
	if r := dr.Records[0].Response; r.Body != `{"ok":true}` || r.Fields["content_encoding"] != "gzip" {
		t.Fatalf("response %+v", r)
	}
}

func TestUnorientedServerFirst(t *testing.T) {
	c, s := newSide(), newSide()
	dr := open(false)
	// DirA turns out to be the server.
	dr.Feed(sdk.DirA, settings(), 1)
	dr.Feed(sdk.DirB, cat([]byte(preface), get(c, 1, "/x")), 2)
	dr.Feed(sdk.DirA, s.headers(1, true, ":status", "302"), 3)
	dr.Close(4)
	wantBriefs(t, dr, "http2 GET /x -> 302")
	if dr.Records[0].RequestDir != sdk.DirB {
		t.Fatal("request direction")
	}
}

func TestGarbageNeverHangs(t *testing.T) {
	dr := open(true)
	dr.Feed(cli, bytes.Repeat([]byte{0xff, 0, 1}, 100000), 1)
	dr.Feed(srv, bytes.Repeat([]byte{0}, 300000), 2)
	dr.Close(3)
	if dr.Rejected() || len(dr.Records) != 0 {
		t.Fatalf("rejected %v records %d", dr.Rejected(), len(dr.Records))
	}
}

func TestLargeDataStreams(t *testing.T) {
	c, s := newSide(), newSide()
	dr := open(true)
	dr.MaxBuffer = 64 << 10
	big := bytes.Repeat([]byte("0123456789"), 100000)
	dr.Feed(cli, cat([]byte(preface), get(c, 1, "/big")), 1)
	dr.Feed(srv, cat(s.headers(1, false, ":status", "200"), frame(frameData, flagEndStream, 1, big)), 2)
	dr.Close(3)
	wantBriefs(t, dr, "http2 GET /big -> 200")
	if r := dr.Records[0].Response; r.BodySize != int64(len(big)) || !r.BodyTruncated || len(r.Body) != bodyPreview {
		t.Fatalf("body %d truncated %v preview %d", r.BodySize, r.BodyTruncated, len(r.Body))
	}
}
