package main

import "testing"

// The tap part counts the records of tap's summary that stand for
// h2load's requests: over HTTPS the TLS source's plaintext records, not
// the packet source's, which are only the handshakes (one a connection).
func TestTapRecords(t *testing.T) {
	// tap's summary in the format of cmd/kubeshark (packetSource.Summary,
	// tlsSource.Summary) after 4,000 HTTPS requests on 20 connections.
	const summary = `tap: cgroup /sys/fs/cgroup/unified: 9192 packets, 2.1 MB in 13.0s
  streams:  20 TCP, 0 UDP (0 not recognised); 0 L4 flows stored
  records:  20 (tls 20)
  capture:  9192 packets delivered, 0 local duplicates dropped, 0 filtered out (0 of them in the kernel); at most 0 B waited between the ring buffer and dissection
  loss:     3 packets lost in the kernel (ring buffer full, 4.1 KB; 0 of them after some of their chunks), 0 cut at the snap length
tap: TLS plaintext of 2 libssl, 0 Go binaries (41 processes at the end)
  hooked:   /usr/lib/x86_64-linux-gnu/libssl.so.3
  captured: 16000 calls, 2.4 MB of plaintext; 20 connections, 4000 records (http 4000)
  loss:     5 plaintext events lost in the kernel (ring buffer full), 0 B beyond the 64 KiB a call keeps, 0 calls with no socket found
`
	for _, tc := range []struct {
		name           string
		summary        string
		tls            bool
		records, drops int64
	}{
		{"packets", summary, false, 20, 3},
		{"tls", summary, true, 4000, 8},
		{"tls without its lines", "  records:  20 (tls 20)\n  loss:     0 packets lost in the kernel (ring buffer full, 0 B)\n", true, -1, -1},
	} {
		if r, d := tapRecords(tc.summary, tc.tls); r != tc.records || d != tc.drops {
			t.Errorf("%s: %d records, %d drops; want %d, %d", tc.name, r, d, tc.records, tc.drops)
		}
	}
}

// The repeated runs' p99 is judged on medians: an odd count takes the
// middle run, an even one the mean of the two middle ones, whatever the
// order the runs came in.
func TestMedians(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{9, 1, 5}, 5},
		{[]float64{40, 10, 30, 20}, 25},
		{[]float64{7}, 7},
		{nil, 0},
	} {
		if got := medianF(tc.in); got != tc.want {
			t.Errorf("medianF(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	rows := []tapRow{{rate: 5000, run: 1}, {rate: 0, run: 1}, {rate: 5000, run: 2}}
	if g := byRate(rows); len(g) != 2 || len(g[0]) != 2 || g[0][1].run != 2 || g[1][0].rate != 0 {
		t.Errorf("byRate grouped %+v", g)
	}
}
