package redis

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// outcome is what a streamed-type test checks of one record.
type outcome struct {
	brief    string // as brief renders it
	typ      string // redis_response_type
	streamed bool   // redis_streamed
	err      string // a substring of Error; "" wants none
}

func outcomes(rs []*sdk.Record) []outcome {
	out := []outcome{}
	for _, r := range rs {
		o := outcome{brief: brief(r)}
		if r.Response != nil {
			o.typ, _ = r.Response.Fields["redis_response_type"].(string)
			o.streamed, _ = r.Response.Fields["redis_streamed"].(bool)
		}
		o.err = r.Error
		out = append(out, o)
	}
	return out
}

func TestStreamedTypes(t *testing.T) {
	get := c("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	ping := c("*1\r\n$4\r\nPING\r\n")
	tests := []struct {
		name  string
		steps []step
		want  []outcome
	}{
		{"streamed string", []step{get, s("$?\r\n;4\r\nHell\r\n;6\r\no worl\r\n;1\r\nd\r\n;0\r\n")},
			[]outcome{{brief: "GET k -> Hello world", typ: "bulk_string", streamed: true}}},
		{"empty streamed string", []step{get, s("$?\r\n;0\r\n")},
			[]outcome{{brief: `GET k -> ""`, typ: "bulk_string", streamed: true}}},
		{"streamed string with CRLF inside a chunk", []step{get, s("$?\r\n;3\r\na\r\n\r\n;0\r\n")},
			[]outcome{{brief: `GET k -> "a\r\n"`, typ: "bulk_string", streamed: true}}},
		{"streamed array", []step{get, s("*?\r\n:1\r\n:2\r\n:3\r\n.\r\n")},
			[]outcome{{brief: "GET k -> [1 2 3]", typ: "array", streamed: true}}},
		{"empty streamed array", []step{get, s("*?\r\n.\r\n")},
			[]outcome{{brief: "GET k -> []", typ: "array", streamed: true}}},
		{"streamed map", []step{get, s("%?\r\n+a\r\n:1\r\n+b\r\n:2\r\n.\r\n")},
			[]outcome{{brief: "GET k -> {a 1 b 2}", typ: "map", streamed: true}}},
		{"streamed set", []step{get, s("~?\r\n+x\r\n+y\r\n.\r\n")},
			[]outcome{{brief: "GET k -> [x y]", typ: "set", streamed: true}}},
		{"streamed aggregate inside a counted one", []step{get, s("*3\r\n:1\r\n*?\r\n:2\r\n$?\r\n;1\r\na\r\n;0\r\n.\r\n:3\r\n")},
			[]outcome{{brief: "GET k -> [1 [2 a] 3]", typ: "array"}}},
		{"counted and streamed aggregates inside a streamed one", []step{get, s("*?\r\n*2\r\n:1\r\n:2\r\n%?\r\n+k\r\n~?\r\n.\r\n.\r\n.\r\n")},
			[]outcome{{brief: "GET k -> [[1 2] {k []}]", typ: "array", streamed: true}}},
		{"streamed attribute before a reply", []step{get, s("|?\r\n+ttl\r\n:3600\r\n.\r\n+OK\r\n")},
			[]outcome{{brief: "GET k -> OK", typ: "simple_string"}}},
		{"streamed attribute inside an array", []step{get, s("*2\r\n:1\r\n|?\r\n+a\r\n*?\r\n:9\r\n.\r\n.\r\n:2\r\n")},
			[]outcome{{brief: "GET k -> [1 2]", typ: "array"}}},
		{"streamed replies pipelined", []step{get, ping, get, s("*?\r\n:1\r\n.\r\n+PONG\r\n$?\r\n;2\r\nhi\r\n;0\r\n")},
			[]outcome{
				{brief: "GET k -> [1]", typ: "array", streamed: true},
				{brief: "PING -> PONG", typ: "simple_string"},
				{brief: "GET k -> hi", typ: "bulk_string", streamed: true},
			}},
		{"streamed message array before subscribing is data", []step{get, s("*?\r\n$7\r\nmessage\r\n.\r\n")},
			[]outcome{{brief: "GET k -> [message]", typ: "array", streamed: true}}},

		// Damage: a failed record, then the parser finds its feet again.
		{"END without a streamed aggregate", []step{ping, ping, s(".\r\n+PONG\r\n")},
			[]outcome{{brief: "PING ->  failed:", typ: "", err: "END marker outside a streamed aggregate"}, {brief: "PING -> PONG", typ: "simple_string"}}},
		{"END inside a counted aggregate", []step{get, ping, s("*2\r\n:1\r\n.\r\n+PONG\r\n")},
			[]outcome{{brief: "GET k -> [1 failed:", typ: "array", err: "END marker outside"}, {brief: "PING -> PONG", typ: "simple_string"}}},
		{"non-numeric chunk length", []step{get, ping, s("$?\r\n;x\r\nabc\r\n;0\r\n+PONG\r\n")},
			[]outcome{{brief: "GET k ->  failed:", typ: "bulk_string", streamed: true, err: "bad streamed string chunk length"}, {brief: "PING -> PONG", typ: "simple_string"}}},
		{"negative chunk length", []step{get, s("$?\r\n;-3\r\nabc\r\n")},
			[]outcome{{brief: "GET k ->  failed:", typ: "bulk_string", streamed: true, err: "bad streamed string chunk length"}}},
		{"chunk length beyond the bulk limit", []step{get, s("$?\r\n;999999999999\r\n")},
			[]outcome{{brief: "GET k ->  failed:", typ: "bulk_string", streamed: true, err: "bad streamed string chunk length"}}},
		{"chunk without ';'", []step{get, s("$?\r\n4\r\nabcd\r\n")},
			[]outcome{{brief: "GET k ->  failed:", typ: "bulk_string", streamed: true, err: "does not start with ';'"}}},
		{"chunk longer than announced", []step{get, s("$?\r\n;2\r\nabc\r\n;0\r\n")},
			[]outcome{{brief: "GET k ->  failed:", typ: "bulk_string", streamed: true, err: "bulk string not followed by CRLF"}}},
		{"streamed map ended between key and value", []step{get, s("%?\r\n+a\r\n:1\r\n+b\r\n.\r\n")},
			[]outcome{{brief: "GET k -> {a 1 b failed:", typ: "map", streamed: true, err: "between a key and its value"}}},
		{"streamed push is not RESP3", []step{get, s(">?\r\n")},
			[]outcome{{brief: "GET k ->  failed:", err: "bad aggregate length"}}},
		{"streamed bulk error is not RESP3", []step{get, s("!?\r\n")},
			[]outcome{{brief: "GET k ->  failed:", err: "bad bulk length"}}},
		{"missing END", []step{get, s("*?\r\n:1\r\n:2\r\n")},
			[]outcome{{brief: "GET k -> [1 2", typ: "array", streamed: true, err: "connection ended before the message did"}}},
		{"missing final chunk", []step{get, s("$?\r\n;2\r\nab\r\n")},
			[]outcome{{brief: "GET k ->", typ: "bulk_string", streamed: true, err: "connection ended before the message did"}}},
		{"gap inside a chunk", []step{get, s("$?\r\n;10\r\nab"), {dir: srv, gap: 4}, s("cdef\r\n;1\r\nz\r\n;0\r\n")},
			[]outcome{{brief: "GET k -> abcdefz…", typ: "bulk_string", streamed: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dr := run(tt.steps)
			got := outcomes(dr.Records)
			if len(got) != len(tt.want) {
				t.Fatalf("records:\n got  %+v\n want %+v", got, tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				errOK := w.err == "" && g.err == "" || w.err != "" && strings.Contains(g.err, w.err)
				if g.brief != w.brief || g.typ != w.typ || g.streamed != w.streamed || !errOK {
					t.Errorf("record %d:\n got  %+v\n want %+v", i, g, w)
				}
			}
		})
	}
}

// TestStreamedAcrossDeliveries cuts streamed replies at every byte
// boundary, and into runs of deliveries of every small size: the records
// must be those of the reply delivered whole.
func TestStreamedAcrossDeliveries(t *testing.T) {
	cmd := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	replies := []string{
		"$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n",
		"*3\r\n:1\r\n*?\r\n%?\r\n+a\r\n$?\r\n;2\r\nxy\r\n;0\r\n.\r\n|?\r\n+t\r\n:1\r\n.\r\n:2\r\n.\r\n:3\r\n",
	}
	render := func(rs []*sdk.Record) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, fmt.Sprintf("%s size=%d body=%q/%d", brief(r), r.Response.Size, r.Response.Body, r.Response.BodySize))
		}
		return out
	}
	for _, reply := range replies {
		whole := open()
		whole.Feed(cli, cmd, 1)
		whole.Feed(srv, []byte(reply), 2)
		whole.Close(3)
		want := render(whole.Records)
		if len(want) != 1 || whole.Records[0].Error != "" || whole.Records[0].Response.Size != int64(len(reply)) {
			t.Fatalf("whole reply %q: %v (error %q)", reply, want, whole.Records[0].Error)
		}
		for cut := 1; cut < len(reply); cut++ {
			dr := open()
			dr.Feed(cli, cmd, 1)
			dr.Feed(srv, []byte(reply[:cut]), 2)
			dr.Feed(srv, []byte(reply[cut:]), 3)
			dr.Close(4)
			if got := render(dr.Records); !reflect.DeepEqual(got, want) {
				t.Fatalf("cut at %d of %q:\n got  %v\n want %v", cut, reply, got, want)
			}
		}
		for size := 1; size <= 8; size++ {
			dr := open()
			dr.Feed(cli, cmd, 1)
			deliveries := 0
			// Chunk bytes 0x80|size-1: server direction, size bytes, no
			// loss; one per delivery, or the rest would come in one.
			sched := bytes.Repeat([]byte{0x80 | byte(size-1)}, len(reply))
			end := sdktest.Schedule(nil, []byte(reply), sched, func(dir sdk.Direction, data []byte, _ bool, ts int64) {
				deliveries++
				dr.Feed(dir, data, ts+1)
			})
			dr.Close(end + 1)
			if got := render(dr.Records); !reflect.DeepEqual(got, want) {
				t.Fatalf("%d-byte deliveries of %q:\n got  %v\n want %v", size, reply, got, want)
			}
			if want := (len(reply) + size - 1) / size; deliveries != want {
				t.Fatalf("%d deliveries, want %d", deliveries, want)
			}
		}
	}
}

// TestStreamedStringBounded sends a streamed string far larger than the
// host's buffer: the parser must consume it as it comes and keep only the
// preview, like a counted bulk string.
func TestStreamedStringBounded(t *testing.T) {
	const chunks, chunkSize = 200, 1000
	var b strings.Builder
	b.WriteString("$?\r\n")
	for i := range chunks {
		fmt.Fprintf(&b, ";%d\r\n%s\r\n", chunkSize, strings.Repeat(string(rune('a'+i%26)), chunkSize))
	}
	b.WriteString(";0\r\n")
	reply := b.String()

	dr := open()
	dr.MaxBuffer = 64 // less than one chunk: only streaming can get through
	dr.Feed(cli, []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), 1)
	for i := 0; i < len(reply); i += 4096 {
		dr.Feed(srv, []byte(reply[i:min(i+4096, len(reply))]), int64(i+2))
	}
	dr.Close(int64(len(reply) + 2))
	if dr.Rejected() || dr.Misbehaved != "" {
		t.Fatalf("rejected %v, misbehaved %q", dr.Rejected(), dr.Misbehaved)
	}
	if len(dr.Records) != 1 {
		t.Fatalf("%d records", len(dr.Records))
	}
	r := dr.Records[0]
	resp := r.Response
	if r.Error != "" || resp.Size != int64(len(reply)) || resp.BodySize != chunks*chunkSize || !resp.BodyTruncated {
		t.Fatalf("error %q size %d body size %d truncated %v", r.Error, resp.Size, resp.BodySize, resp.BodyTruncated)
	}
	if len(resp.Body) != bodyPreview || resp.Body[:chunkSize+1] != strings.Repeat("a", chunkSize)+"b" {
		t.Fatalf("body preview %d bytes, starting %q", len(resp.Body), resp.Body[:min(len(resp.Body), 40)])
	}
	if rendered := resp.Fields["redis_response"].(string); !strings.HasSuffix(rendered, "…") && len(rendered) > 1024 {
		t.Fatalf("rendering %d bytes", len(rendered))
	}
}

func TestProbeStreamedReplies(t *testing.T) {
	tests := []struct {
		name string
		data string
		min  uint8 // confidence at least
		max  uint8 // and at most
	}{
		{"streamed string", "$?\r\n;2\r\nhi\r\n;0\r\n", 50, 100},
		{"streamed map", "%?\r\n+a\r\n:1\r\n.\r\n", 50, 100},
		{"stray END", ".\r\n", 0, 0},
		{"bad chunk", "$?\r\n;z\r\n", 0, 0},
		{"odd streamed map", "%?\r\n+a\r\n.\r\n", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New().Probe(srv, []byte(tt.data))
			if p.Confidence < tt.min || p.Confidence > tt.max {
				t.Fatalf("confidence %d, want %d–%d", p.Confidence, tt.min, tt.max)
			}
		})
	}
}
