package analysis

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// t0 is the start of every synthetic capture.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// openStore opens a real store in a temporary directory holding recs.
// Put fills in the records' IDs.
func openStore(t testing.TB, recs []*sdk.Record) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), storage.Options{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	if len(recs) > 0 {
		if err := st.Put(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// call describes a synthetic exchange; rec turns it into a record.
type call struct {
	at                  time.Duration // after t0
	src, dst            string        // "ip" or "ip:port"; dst defaults to port 80
	srcName, dstName    string        // workload names, "ns/name" or "name"
	proto, method, path string
	status              int
	failed              bool
	ms                  float64 // elapsed; negative: no response
	reqSize, respSize   int64
	reqHeaders          []sdk.Header
	respHeaders         []sdk.Header
	reqBody, respBody   string
}

func endpoint(s, name string, defPort uint16) sdk.Endpoint {
	e := sdk.Endpoint{IP: s, Port: defPort}
	if host, port, err := net.SplitHostPort(s); err == nil {
		p, _ := strconv.Atoi(port)
		e = sdk.Endpoint{IP: host, Port: uint16(p)}
	}
	if name != "" {
		e.Name = name
		for i := 0; i < len(name); i++ {
			if name[i] == '/' {
				e.Namespace, e.Name = name[:i], name[i+1:]
			}
		}
	}
	return e
}

func (c call) rec() *sdk.Record {
	r := &sdk.Record{
		Protocol: c.proto, Timestamp: t0.Add(c.at),
		Src: endpoint(c.src, c.srcName, 40000), Dst: endpoint(c.dst, c.dstName, 80),
		Stream: "s", Dissector: "test@1", Method: c.method, Path: c.path, Status: c.status, Failed: c.failed,
		Request: &sdk.Message{Headers: c.reqHeaders, Body: c.reqBody, Size: c.reqSize, BodySize: int64(len(c.reqBody))},
	}
	if r.Protocol == "" {
		r.Protocol = "http"
	}
	if r.Method == "" && r.Protocol == "http" {
		r.Method = "GET"
	}
	if r.Status == 0 && c.ms >= 0 && r.Protocol == "http" {
		r.Status = 200
	}
	if c.ms >= 0 {
		v := c.ms
		r.ElapsedMs = &v
		r.Response = &sdk.Message{Headers: c.respHeaders, Body: c.respBody, Size: c.respSize, BodySize: int64(len(c.respBody))}
	}
	return r
}

func recs(cs ...call) []*sdk.Record {
	out := make([]*sdk.Record, len(cs))
	for i, c := range cs {
		out[i] = c.rec()
	}
	return out
}

func win(from, to time.Duration) Window { return Window{Start: t0.Add(from), End: t0.Add(to)} }

func sec(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }
