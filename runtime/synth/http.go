package synth

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats describes what HTTPSample sent.
type Stats struct {
	// Requests and Responses count completed exchanges (they are equal
	// unless the context was cancelled).
	Requests, Responses int
	// Methods counts requests by method, Statuses responses by status code.
	Methods  map[string]int
	Statuses map[int]int
	// Conns is the number of TCP connections; Packets the frames written.
	Conns, Packets int
}

// sampleClients is how many keep-alive connections HTTPSample drives at once.
const sampleClients = 8

// largeBodySize is the size of the "large body" endpoint's response: big
// enough to span dozens of segments, small enough that a 100k-request
// benchmark capture stays a few hundred megabytes.
const largeBodySize = 64 << 10

// HTTPSample starts a real net/http server on loopback with a handful of
// realistic endpoints (JSON GET/POST/PUT with path parameters and query
// strings, 404, 500 with a JSON error, 503, gzip, chunked streaming, HEAD,
// 204, 304 via If-None-Match and a large body), drives n requests through a
// Relay over several keep-alive connections, and writes the capture to w.
func HTTPSample(ctx context.Context, w io.Writer, n int) (Stats, error) {
	pw, err := NewWriter(w)
	if err != nil {
		return Stats{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Stats{}, fmt.Errorf("synth: http sample: %w", err)
	}
	srv := &http.Server{Handler: sampleHandler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	relay, err := NewRelay(ln.Addr().String(), pw, RelayOptions{})
	if err != nil {
		return Stats{}, err
	}
	tr := &http.Transport{
		MaxIdleConnsPerHost: sampleClients,
		MaxConnsPerHost:     sampleClients,
		DisableCompression:  true, // so the gzip response is recorded as sent
		IdleConnTimeout:     time.Minute,
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	var mu sync.Mutex
	st := Stats{Methods: map[string]int{}, Statuses: map[int]int{}}
	var next atomic.Int64
	var firstErr error
	var wg sync.WaitGroup
	for range min(sampleClients, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				method, status, err := doSample(ctx, client, "http://"+relay.Addr(), i)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				st.Requests++
				st.Responses++
				st.Methods[method]++
				st.Statuses[status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Closing idle connections from the client side lets the relay record
	// orderly FIN exchanges before it is closed.
	tr.CloseIdleConnections()
	waitIdle(relay)
	relay.Close()
	st.Conns = relay.Conns()
	st.Packets = pw.Packets()
	if err := pw.Flush(); err != nil {
		return st, err
	}
	if firstErr != nil {
		return st, firstErr
	}
	return st, ctx.Err()
}

// waitIdle gives the relay a moment to see the clients' FINs, so Close
// does not have to cut connections that are already closing.
func waitIdle(r *Relay) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		n := len(r.active)
		r.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// doSample sends request i of the sample mix and drains the response.
func doSample(ctx context.Context, c *http.Client, base string, i int) (method string, status int, err error) {
	id := 1000 + i%97
	var req *http.Request
	switch {
	case i%40 == 39:
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/export?format=json", nil)
	default:
		switch i % 13 {
		case 0, 1:
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/users/%d?fields=name,email&lang=en", base, id), nil)
		case 2:
			body := fmt.Sprintf(`{"name":"user %d","email":"user%d@example.com","roles":["reader"]}`, i, i)
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/users", strings.NewReader(body))
			if req != nil {
				req.Header.Set("Content-Type", "application/json")
			}
		case 3:
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/orders?status=open&page=%d&per_page=20", base, i%7), nil)
		case 4:
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/nothing/%d", base, i), nil)
		case 5:
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/fail?reason=db", nil)
		case 6:
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/busy", nil)
		case 7:
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/report?year=2024", nil)
			if req != nil {
				req.Header.Set("Accept-Encoding", "gzip")
			}
		case 8:
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/stream?events=5", nil)
		case 9:
			req, err = http.NewRequestWithContext(ctx, http.MethodHead, fmt.Sprintf("%s/api/users/%d", base, id), nil)
		case 10:
			req, err = http.NewRequestWithContext(ctx, http.MethodDelete, fmt.Sprintf("%s/api/users/%d", base, id), nil)
		case 11:
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/static/app.js", nil)
			if req != nil {
				req.Header.Set("If-None-Match", staticETag)
			}
		default:
			body := fmt.Sprintf(`{"email":"new%d@example.com"}`, i)
			req, err = http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s/api/users/%d", base, id), strings.NewReader(body))
			if req != nil {
				req.Header.Set("Content-Type", "application/json")
			}
		}
	}
	if err != nil {
		return "", 0, fmt.Errorf("synth: request %d: %w", i, err)
	}
	req.Header.Set("User-Agent", "kubeshark-synth/1.0")
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("synth: request %d: %w", i, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", 0, fmt.Errorf("synth: request %d body: %w", i, err)
	}
	return req.Method, resp.StatusCode, nil
}

const staticETag = `"app-js-v42"`

// sampleHandler serves the endpoints HTTPSample exercises.
func sampleHandler() http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		w.Header().Set("Cache-Control", "private, max-age=60")
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "name": fmt.Sprintf("user %d", id), "email": fmt.Sprintf("user%d@example.com", id),
			"fields": strings.Split(r.URL.Query().Get("fields"), ","), "created": "2024-01-02T03:04:05Z",
		})
	})
	mux.HandleFunc("POST /api/users", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		in["id"] = 4242
		w.Header().Set("Location", "/api/users/4242")
		writeJSON(w, http.StatusCreated, in)
	})
	mux.HandleFunc("PUT /api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		json.NewDecoder(r.Body).Decode(&in)
		in["id"] = r.PathValue("id")
		writeJSON(w, http.StatusOK, in)
	})
	mux.HandleFunc("DELETE /api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/orders", func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		orders := make([]map[string]any, 0, 5)
		for k := range 5 {
			orders = append(orders, map[string]any{"id": page*100 + k, "status": r.URL.Query().Get("status"), "total": 19.99 * float64(k+1)})
		}
		writeJSON(w, http.StatusOK, map[string]any{"page": page, "orders": orders})
	})
	mux.HandleFunc("GET /api/fail", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusInternalServerError, map[string]any{
			"error": "internal", "message": "database unavailable: " + r.URL.Query().Get("reason"), "request_id": "req-7f3a",
		})
	})
	mux.HandleFunc("GET /api/busy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "service temporarily unavailable", http.StatusServiceUnavailable)
	})
	report := reportBody()
	mux.HandleFunc("GET /api/report", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Write(report)
			return
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(report)
		zw.Close()
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Vary", "Accept-Encoding")
		w.Write(buf.Bytes())
	})
	mux.HandleFunc("GET /api/stream", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("events"))
		w.Header().Set("Content-Type", "application/x-ndjson")
		fl, _ := w.(http.Flusher)
		for k := range n {
			fmt.Fprintf(w, `{"event":%d,"type":"tick"}`+"\n", k)
			if fl != nil {
				fl.Flush() // each flush becomes one chunk
			}
		}
	})
	mux.HandleFunc("GET /static/app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", staticETag)
		if r.Header.Get("If-None-Match") == staticETag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, "console.log('app');\n")
	})
	large := largeBody()
	mux.HandleFunc("GET /api/export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(large)))
		w.Write(large)
	})
	return mux
}

// GzipReportResponse is the HTTP/1.1 response the sample server gives to
// GET /api/report with Accept-Encoding: gzip: a 3 KB JSON report, gzipped.
// Benchmarks of compressed previews use it.
func GzipReportResponse() []byte {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(reportBody())
	zw.Close()
	head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\nVary: Accept-Encoding\r\nContent-Length: %d\r\n\r\n", z.Len())
	return append([]byte(head), z.Bytes()...)
}

func reportBody() []byte {
	var b bytes.Buffer
	b.WriteString(`{"year":2024,"rows":[`)
	for k := range 60 {
		if k > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"month":%d,"revenue":%d,"region":"eu-west"}`, k%12+1, 1000+k*37)
	}
	b.WriteString("]}")
	return b.Bytes()
}

func largeBody() []byte {
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for k := 0; b.Len() < largeBodySize-100; k++ {
		if k > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"SKU-%06d","qty":%d}`, k, k%9)
	}
	b.WriteString("]}")
	return b.Bytes()
}
