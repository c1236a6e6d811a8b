package synth

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
)

var cascadeStart = time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)

func writeCascade(t *testing.T, opts CascadeOptions) (string, CascadeStats) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cascade.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := Cascade(ctx, f, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, st
}

// response is one HTTP response found in a read-back capture.
type response struct {
	status int
	at     time.Time
}

// responses finds the status lines a server sent in one direction of a
// conversation, each stamped with the time of the segment it starts in.
// Status lines start with "HTTP/1.1 " and no body here contains that.
func responses(t *testing.T, f *flow) []response {
	t.Helper()
	var out []response
	off := 0
	for _, s := range f.segments {
		for i := 0; ; {
			k := bytes.Index(s.Payload[i:], []byte("HTTP/1.1 "))
			if k < 0 {
				break
			}
			i += k + len("HTTP/1.1 ")
			if i+3 > len(s.Payload) {
				t.Fatalf("status line split at byte %d", off+i)
			}
			code, err := strconv.Atoi(string(s.Payload[i : i+3]))
			if err != nil {
				t.Fatalf("status line at byte %d: %v", off+i, err)
			}
			out = append(out, response{code, s.Timestamp})
		}
		off += len(s.Payload)
	}
	return out
}

func TestCascade(t *testing.T) {
	tests := []struct {
		name     string
		opts     CascadeOptions
		failures bool
		// onset is the expected FailureOnset less Start, if not zero.
		onset time.Duration
	}{
		{"default", CascadeOptions{Start: cascadeStart}, true, 30 * time.Second},
		{"no failure", CascadeOptions{Start: cascadeStart, Checkouts: 8, FailAfter: 8}, false, 0},
		// Iterations take longer than the interval, so the onset is later
		// than FailAfter intervals and only the ordering is checked.
		{"overrunning interval", CascadeOptions{Start: cascadeStart, Checkouts: 9, FailAfter: 4, Interval: 10 * time.Millisecond}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, st := writeCascade(t, tt.opts)
			checkouts, failAfter := tt.opts.Checkouts, tt.opts.FailAfter
			if checkouts == 0 {
				checkouts, failAfter = 60, 30
			}
			failed := max(checkouts-failAfter, 0)

			// What the services say they answered.
			wantEndpoints := []struct {
				svc      ServiceStats
				endpoint string
				want     map[int]int
			}{
				{st.Frontend, "GET /checkout/{n}", map[int]int{200: failAfter, 500: failed}},
				{st.Frontend, "GET /api/catalog", map[int]int{200: checkouts}},
				{st.Frontend, "GET /health", map[int]int{200: (checkouts + 4) / 5}},
				{st.Orders, "POST /api/orders", map[int]int{201: failAfter, 502: failed}},
				{st.Orders, "GET /api/orders/{id}", map[int]int{200: failAfter}},
				// orders retries each 503 once.
				{st.Payments, "POST /api/payments/charge", map[int]int{200: failAfter, 503: 2 * failed}},
			}
			for _, e := range wantEndpoints {
				maps.DeleteFunc(e.want, func(_, n int) bool { return n == 0 })
				if got := e.svc.Endpoints[e.endpoint]; !maps.Equal(got, e.want) {
					t.Errorf("%v %s: statuses %v, want %v", e.svc.Addr, e.endpoint, got, e.want)
				}
			}

			flows, ds := readBack(t, path)
			if st.Packets == 0 || int(ds.Packets) != st.Packets {
				t.Fatalf("read %d packets, Cascade wrote %d", ds.Packets, st.Packets)
			}

			// Roles: exactly one link per tier, each from the caller's own
			// address, and no other host in the capture.
			wantLinks := map[[2]netip.Addr]netip.AddrPort{
				{st.Client, st.Frontend.Addr.Addr()}:             st.Frontend.Addr,
				{st.Frontend.Addr.Addr(), st.Orders.Addr.Addr()}: st.Orders.Addr,
				{st.Orders.Addr.Addr(), st.Payments.Addr.Addr()}: st.Payments.Addr,
			}
			hosts := map[netip.Addr]bool{st.Client: true}
			for _, s := range []ServiceStats{st.Frontend, st.Orders, st.Payments} {
				hosts[s.Addr.Addr()] = true
			}
			gotLinks := map[[2]netip.Addr]netip.AddrPort{}
			first, last := time.Time{}, time.Time{}
			for k, f := range flows {
				if k.t != packet.TCP || !hosts[k.src.Addr()] || !hosts[k.dst.Addr()] {
					t.Fatalf("unexpected flow %v → %v", k.src, k.dst)
				}
				for _, s := range f.segments {
					if s.Has(packet.FlagSYN) && !s.Has(packet.FlagACK) {
						gotLinks[[2]netip.Addr{s.Src.Addr(), s.Dst.Addr()}] = s.Dst
					}
					if first.IsZero() || s.Timestamp.Before(first) {
						first = s.Timestamp
					}
					if s.Timestamp.After(last) {
						last = s.Timestamp
					}
				}
			}
			if !maps.Equal(gotLinks, wantLinks) {
				t.Errorf("links (caller → server) %v, want %v", gotLinks, wantLinks)
			}
			if !first.Equal(st.Start) || !last.Equal(st.End) {
				t.Errorf("capture spans %v..%v, stats say %v..%v", first, last, st.Start, st.End)
			}

			// The capture holds what the services counted, at the times
			// the stats give.
			var all []response
			for _, svc := range []ServiceStats{st.Frontend, st.Orders, st.Payments} {
				var reqs int
				statuses := map[int]int{}
				var firstErr time.Time
				for k, f := range flows {
					if k.dst == svc.Addr {
						reqs += bytes.Count(f.data, []byte(" HTTP/1.1\r\n"))
					}
					if k.src != svc.Addr {
						continue
					}
					for _, r := range responses(t, f) {
						statuses[r.status]++
						if r.status >= 500 && (firstErr.IsZero() || r.at.Before(firstErr)) {
							firstErr = r.at
						}
						all = append(all, r)
					}
				}
				if reqs != svc.Requests || !maps.Equal(statuses, svc.Statuses) {
					t.Errorf("%v: capture has %d requests %v, stats %d %v", svc.Addr, reqs, statuses, svc.Requests, svc.Statuses)
				}
				if !firstErr.Equal(svc.FirstError) {
					t.Errorf("%v: first 5xx in capture at %v, stats say %v", svc.Addr, firstErr, svc.FirstError)
				}
			}
			if !tt.failures {
				if !st.FailureOnset.IsZero() || !st.Payments.FirstError.IsZero() || !st.Orders.FirstError.IsZero() || !st.Frontend.FirstError.IsZero() {
					t.Fatalf("run without failures has onset %v, first errors %v %v %v", st.FailureOnset, st.Payments.FirstError, st.Orders.FirstError, st.Frontend.FirstError)
				}
				return
			}
			if tt.onset != 0 && st.FailureOnset.Sub(st.Start) != tt.onset {
				t.Errorf("onset at +%v, want +%v", st.FailureOnset.Sub(st.Start), tt.onset)
			}
			if !(st.FailureOnset.Before(st.Payments.FirstError) && st.Payments.FirstError.Before(st.Orders.FirstError) && st.Orders.FirstError.Before(st.Frontend.FirstError)) {
				t.Errorf("onset %v, first 503 %v, first 502 %v, first 500 %v: not in cascade order",
					st.FailureOnset, st.Payments.FirstError, st.Orders.FirstError, st.Frontend.FirstError)
			}
			// The onset splits the capture into a clean baseline and an
			// incident window holding every error.
			for _, r := range all {
				if r.status >= 500 && r.at.Before(st.FailureOnset) {
					t.Errorf("%d at %v, before the onset %v", r.status, r.at, st.FailureOnset)
				}
			}
			timeouts := 0
			for k, f := range flows {
				if k.src == st.Payments.Addr {
					timeouts += bytes.Count(f.data, []byte(`{"code":"UPSTREAM_TIMEOUT","error":"payment provider timeout"}`))
				}
			}
			if timeouts != 2*failed {
				t.Errorf("%d payment timeout bodies, want %d (each failed checkout and its retry)", timeouts, 2*failed)
			}
		})
	}
}

// TestCascadeMidpoint checks the promise to callers that split the default
// capture in halves: baseline first, incident second.
func TestCascadeMidpoint(t *testing.T) {
	var buf bytes.Buffer
	st, err := Cascade(context.Background(), &buf, CascadeOptions{Start: cascadeStart, Checkouts: 10})
	if err != nil {
		t.Fatal(err)
	}
	if mid := st.Start.Add(st.End.Sub(st.Start) / 2); !st.FailureOnset.Equal(mid) {
		t.Fatalf("onset %v, midpoint %v", st.FailureOnset, mid)
	}
	if d := st.End.Sub(st.Start); d != 10*time.Second {
		t.Fatalf("capture spans %v, want 10 intervals", d)
	}
}

// TestCascadeDeterministic checks that the virtual clock, not the machine,
// sets the time line: two runs give the same bytes.
func TestCascadeDeterministic(t *testing.T) {
	run := func() []byte {
		var buf bytes.Buffer
		if _, err := Cascade(context.Background(), &buf, CascadeOptions{Start: cascadeStart, Checkouts: 6}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b := run(), run()
	if !bytes.Equal(a, b) {
		t.Fatalf("two runs differ: %d and %d bytes", len(a), len(b))
	}
}

func TestCascadeErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		opts CascadeOptions
		is   error // the error must wrap it, if set
	}{
		{"negative checkouts", context.Background(), CascadeOptions{Checkouts: -1}, nil},
		{"negative interval", context.Background(), CascadeOptions{Interval: -time.Second}, nil},
		{"cancelled", cancelled, CascadeOptions{Checkouts: 4}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Cascade(tt.ctx, &bytes.Buffer{}, tt.opts)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("error %v, want one wrapping %v", err, tt.is)
			}
		})
	}
}

// TestCascadeTshark cross-checks the capture with Wireshark's HTTP
// dissector: responses per server address and status match the stats, and
// the TCP conversations are clean.
func TestCascadeTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not on PATH (apt-get install tshark): cannot cross-check the capture with Wireshark's dissectors")
	}
	path, st := writeCascade(t, CascadeOptions{Start: cascadeStart, Checkouts: 12})
	got := map[string]map[int]int{}
	for _, l := range tshark(t, "-r", path, "-Y", "http.response", "-T", "fields", "-e", "ip.src", "-e", "tcp.srcport", "-e", "http.response.code") {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("tshark line %q", l)
		}
		code, _ := strconv.Atoi(f[2])
		src := f[0] + ":" + f[1]
		if got[src] == nil {
			got[src] = map[int]int{}
		}
		got[src][code]++
	}
	for _, svc := range []ServiceStats{st.Frontend, st.Orders, st.Payments} {
		if !maps.Equal(got[svc.Addr.String()], svc.Statuses) {
			t.Errorf("%v: tshark sees %v, stats say %v", svc.Addr, got[svc.Addr.String()], svc.Statuses)
		}
	}
	if len(got) != 3 {
		t.Errorf("responses from %d addresses, want 3: %v", len(got), got)
	}
	checkTsharkClean(t, path)
}
