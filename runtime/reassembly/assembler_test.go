package reassembly

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAssembler(t *testing.T) {
	cli2 := netip.MustParseAddrPort("10.0.0.1:40001")
	cli3 := netip.MustParseAddrPort("10.0.0.1:40002")
	dns := netip.MustParseAddrPort("10.0.0.53:53")

	tests := []struct {
		name  string
		cfg   Config
		run   func(f *feeder)
		want  []string // events, including those of the final FlushAll
		check func(t *testing.T, s Stats)
	}{
		{
			name: "in order",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "GET /")
				f.s(fPA, 5001, 1006, "200 OK")
				f.c(fFA, 1006, 5007, "")
				f.s(fFA, 5007, 1007, "")
				f.c(fA, 1007, 5008, "") // final ACK lands on the closed 5-tuple
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:GET /", "1B:200 OK", "1 close fin"},
			check: func(t *testing.T, s Stats) {
				want := Stats{ConnsOpened: 1, ConnsClosed: 1, Packets: 8, BytesDelivered: 11, IgnoredSegments: 1}
				if s != want {
					t.Errorf("stats = %+v, want %+v", s, want)
				}
			},
		},
		{
			name: "out of order",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1011, 5001, "!")
				f.c(fPA, 1006, 5001, "world")
				f.c(fPA, 1001, 5001, "hello")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:hello", "1A:world", "1A:!", "1 close flush"},
			check: func(t *testing.T, s Stats) {
				if s.OutOfOrderSegments != 2 || s.Gaps != 0 {
					t.Errorf("stats = %+v", s)
				}
			},
		},
		{
			name: "retransmission",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "hello")
				f.c(fPA, 1001, 5001, "hello")
				f.c(fPA, 1006, 5001, "world")
				f.c(fPA, 1001, 5001, "hello")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:hello", "1A:world", "1 close flush"},
			check: func(t *testing.T, s Stats) {
				if s.RetransmittedBytes != 10 || s.BytesDelivered != 10 {
					t.Errorf("stats = %+v", s)
				}
			},
		},
		{
			name: "partial overlap keeps first copy",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "hello")
				f.c(fPA, 1004, 5001, "LOX world")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:hello", "1A:X world", "1 close flush"},
			check: func(t *testing.T, s Stats) {
				if s.OverlapBytes != 2 {
					t.Errorf("overlap = %d, want 2", s.OverlapBytes)
				}
			},
		},
		{
			name: "overlap with buffered data keeps first copy",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1006, 5001, "world")
				f.c(fPA, 1008, 5001, "RLD!!")    // "rld" already buffered
				f.c(fPA, 1001, 5001, "helloWOR") // in order, but "wor" buffered
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:hello", "1A:world", "1A:!!", "1 close flush"},
			check: func(t *testing.T, s Stats) {
				if s.OverlapBytes != 6 || s.BufferedBytes != 0 {
					t.Errorf("stats = %+v", s)
				}
			},
		},
		{
			name: "gap filled late",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "aaa")
				f.c(fPA, 1007, 5001, "ccc")
				f.s(fA, 5001, 1004, "") // acknowledges only up to the hole
				f.c(fPA, 1004, 5001, "bbb")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:aaa", "1A:bbb", "1A:ccc", "1 close flush"},
		},
		{
			name: "gap never filled, then acked past",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "aaa")
				f.c(fPA, 1007, 5001, "ccc")
				f.s(fA, 5001, 1010, "")
				f.c(fPA, 1004, 5001, "bbb") // too late
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:aaa", "1A gap 3", "1A:ccc", "1 close flush"},
			check: func(t *testing.T, s Stats) {
				if s.Gaps != 1 || s.GapBytes != 3 || s.RetransmittedBytes != 3 {
					t.Errorf("stats = %+v", s)
				}
			},
		},
		{
			name: "ack arrives before the out-of-order data",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "aaa")
				f.s(fA, 5001, 1010, "")
				f.c(fPA, 1007, 5001, "ccc")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:aaa", "1A gap 3", "1A:ccc", "1 close flush"},
		},
		{
			name: "gap at FIN",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "aaa")
				f.c(fFA, 1007, 5001, "ccc")
				f.s(fFA, 5001, 1004, "")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:aaa", "1A gap 3", "1A:ccc", "1 close fin"},
		},
		{
			name: "hole right before FIN",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "aaa")
				f.c(fFA, 1007, 5001, "")
				f.s(fFA, 5001, 1004, "")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:aaa", "1A gap 3", "1 close fin"},
		},
		{
			name: "FIN acked past a hole",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "aaa")
				f.c(fFA, 1007, 5001, "")
				f.s(fA, 5001, 1008, "")
				f.s(fPA, 5001, 1008, "late reply")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:aaa", "1A gap 3", "1B:late reply", "1 close flush"},
		},
		{
			name: "data after FIN is ignored",
			run: func(f *feeder) {
				f.handshake()
				f.c(fFA, 1001, 5001, "bye")
				f.c(fPA, 1005, 5001, "zzz")
				f.c(fPA, 1003, 5001, "e!!") // "e" retransmitted, "!!" past the FIN
				f.s(fFA, 5001, 1005, "")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:bye", "1 close fin"},
			check: func(t *testing.T, s Stats) {
				if s.IgnoredBytes != 5 {
					t.Errorf("ignored bytes = %d, want 5", s.IgnoredBytes)
				}
			},
		},
		{
			name: "mid-stream start is unoriented",
			run: func(f *feeder) {
				f.s(fPA, 9000, 7000, "resp")
				f.c(fPA, 7000, 9004, "next req")
				f.s(fPA, 9004, 7008, "resp2")
			},
			want: []string{"open 1 A=10.0.0.2:80 unoriented", "1A:resp", "1B:next req", "1A:resp2", "1 close flush"},
		},
		{
			name: "SYN-ACK seen first",
			run: func(f *feeder) {
				f.s(fSA, 5000, 1001, "")
				f.c(fA, 1001, 5001, "")
				f.c(fPA, 1001, 5001, "hi")
				f.s(fPA, 5001, 1003, "yo")
				f.c(fS, 1000, 0, "") // the SYN, shown late by the capture
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:hi", "1B:yo", "1 close flush"},
		},
		{
			name: "SYN with data",
			run: func(f *feeder) {
				f.c(fS, 1000, 0, "early")
				f.s(fSA, 5000, 1006, "")
				f.c(fPA, 1006, 5001, "more")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:early", "1A:more", "1 close flush"},
		},
		{
			name: "sequence wraparound",
			run: func(f *feeder) {
				f.c(fS, 0xFFFFFFFA, 0, "")
				f.s(fSA, 0xFFFFFFFF, 0xFFFFFFFB, "")
				f.c(fPA, 0xFFFFFFFF, 0, "efgh") // out of order across 2^32
				f.c(fPA, 0xFFFFFFFB, 0, "abcd")
				f.c(fPA, 3, 0, "ij")
				f.s(fPA, 0, 5, "server") // ISN 2^32-1: data starts at 0
				f.c(fFA, 5, 6, "")
				f.s(fFA, 6, 6, "")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:abcd", "1A:efgh", "1A:ij", "1B:server", "1 close fin"},
		},
		{
			name: "per-connection limit gives up the hole",
			cfg:  Config{MaxBufferedPerConn: 8},
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "aa")
				f.c(fPA, 1005, 5001, "cccc")  // hole of 2 before it
				f.c(fPA, 1011, 5001, "eeeee") // 9 buffered > 8
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:aa", "1A gap 2", "1A:cccc",
				"1A gap 2", "1A:eeeee", "1 close flush"},
			check: func(t *testing.T, s Stats) {
				if s.DroppedConnLimitBytes != 2 || s.GapBytes != 4 || s.DroppedTotalLimitBytes != 0 {
					t.Errorf("stats = %+v", s)
				}
			},
		},
		{
			name: "total limit gives up the oldest hole",
			cfg:  Config{MaxBufferedTotal: 10},
			run: func(f *feeder) {
				f.handshake()
				f.seg(cli2, srv, fS, 100, 0, "")
				f.c(fPA, 1003, 5001, "111111")
				f.seg(cli2, srv, fPA, 103, 0, "222222")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "open 2 A=10.0.0.1:40001 oriented",
				"1A gap 2", "1A:111111", "1 close flush", "2A gap 2", "2A:222222", "2 close flush"},
			check: func(t *testing.T, s Stats) {
				if s.DroppedTotalLimitBytes != 2 || s.DroppedConnLimitBytes != 0 {
					t.Errorf("stats = %+v", s)
				}
			},
		},
		{
			name: "MaxConns evicts the least recently active",
			cfg:  Config{MaxConns: 2},
			run: func(f *feeder) {
				f.c(fPA, 1, 0, "x")
				f.seg(cli2, srv, fPA, 1, 0, "y")
				f.c(fPA, 2, 0, "x") // conn 1 is now the more recent
				f.seg(cli3, srv, fPA, 1, 0, "z")
			},
			want: []string{"open 1 A=10.0.0.1:40000 unoriented", "1A:x", "open 2 A=10.0.0.1:40001 unoriented", "2A:y",
				"1A:x", "2 close evicted", "open 3 A=10.0.0.1:40002 unoriented", "3A:z", "1 close flush", "3 close flush"},
			check: func(t *testing.T, s Stats) {
				if s.ConnsEvicted != 1 {
					t.Errorf("evicted = %d", s.ConnsEvicted)
				}
			},
		},
		{
			name: "idle flush",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "aaa")
				f.c(fPA, 1007, 5001, "ccc")
				f.wait(time.Minute)
				f.flushIdle()
				f.wait(90 * time.Second)
				f.flushIdle()
				f.c(fPA, 1010, 5001, "new") // a new, unoriented connection
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:aaa", "1A gap 3", "1A:ccc", "1 close idle",
				"open 2 A=10.0.0.1:40000 unoriented", "2A:new", "2 close flush"},
		},
		{
			name: "port reuse after FIN",
			run: func(f *feeder) {
				f.handshake()
				f.c(fFA, 1001, 5001, "")
				f.s(fFA, 5001, 1002, "")
				f.c(fS, 9000, 0, "")
				f.s(fSA, 7000, 9001, "")
				f.c(fPA, 9001, 7001, "again")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1 close fin",
				"open 2 A=10.0.0.1:40000 oriented", "2A:again", "2 close flush"},
		},
		{
			name: "port reuse while open",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "old")
				f.c(fS, 1000, 0, "") // retransmitted SYN: same connection
				f.c(fS, 9000, 0, "")
				f.c(fPA, 9001, 0, "new")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:old", "1 close reused",
				"open 2 A=10.0.0.1:40000 oriented", "2A:new", "2 close flush"},
		},
		{
			name: "UDP datagrams and idle",
			run: func(f *feeder) {
				f.handshake()
				f.udp(cli, dns, "q1")
				f.udp(dns, cli, "r1")
				f.udp(cli, dns, "")
				f.udp(cli, dns, "q2")
				f.wait(31 * time.Second)
				f.flushIdle() // UDP times out, TCP does not
				f.udp(cli, dns, "q3")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "open 2 A=10.0.0.1:40000 unoriented",
				"2A:q1", "2B:r1", "2A:q2", "2 close idle", "open 3 A=10.0.0.1:40000 unoriented", "3A:q3",
				"1 close flush", "3 close flush"},
		},
		{
			name: "keep-alive probes",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "abc")
				f.c(fA, 1003, 5001, "x")
				f.c(fA, 1003, 5001, "")
				f.c(fPA, 1004, 5001, "def")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:abc", "1A:def", "1 close flush"},
			check: func(t *testing.T, s Stats) {
				if s.KeepAlives != 1 || s.Gaps != 0 || s.RetransmittedBytes != 0 {
					t.Errorf("stats = %+v", s)
				}
			},
		},
		{
			name: "keep-alive starts a mid-stream direction",
			run: func(f *feeder) {
				f.c(fA, 7999, 9000, "")
				f.c(fPA, 8000, 9000, "data")
				f.c(fFA, 8004, 9000, "")
				f.s(fFA, 9000, 8005, "")
			},
			want: []string{"open 1 A=10.0.0.1:40000 unoriented", "1A:data", "1 close fin"},
		},
		{
			name: "RST mid-hole, then data ignored",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001, 5001, "aaa")
				f.c(fPA, 1007, 5001, "ccc")
				f.s(fR, 5001, 0, "")
				f.c(fPA, 1010, 5001, "ddd")
				f.c(fPA, 1004, 5001, "bbb")
				f.s(fR, 5001, 0, "")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:aaa", "1A gap 3", "1A:ccc", "1 close rst"},
			check: func(t *testing.T, s Stats) {
				if s.IgnoredSegments != 3 {
					t.Errorf("ignored = %d, want 3", s.IgnoredSegments)
				}
			},
		},
		{
			name: "stray RST opens nothing",
			run: func(f *feeder) {
				f.s(fR, 1, 0, "")
			},
			check: func(t *testing.T, s Stats) {
				if s.ConnsOpened != 0 || s.IgnoredSegments != 1 {
					t.Errorf("stats = %+v", s)
				}
			},
		},
		{
			name: "implausibly far ahead is ignored",
			run: func(f *feeder) {
				f.handshake()
				f.c(fPA, 1001+maxAhead, 5001, "far")
				f.c(fPA, 1001, 5001, "near")
			},
			want: []string{"open 1 A=10.0.0.1:40000 oriented", "1A:near", "1 close flush"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			f := &feeder{a: New(tt.cfg, r), now: t0}
			tt.run(f)
			f.a.FlushAll(f.now)
			if !slices.Equal(r.events, tt.want) {
				t.Errorf("events:\n  got  %s\n  want %s", strings.Join(r.events, " | "), strings.Join(tt.want, " | "))
			}
			s := f.a.Stats()
			if s.BufferedBytes != 0 || s.ActiveConns != 0 {
				t.Errorf("after FlushAll: buffered %d, active %d", s.BufferedBytes, s.ActiveConns)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestConnFields(t *testing.T) {
	var got *Conn
	h := &funcHandler{open: func(c *Conn) { got = c }}
	f := &feeder{a: New(Config{}, h), now: t0}
	f.handshake()
	f.c(fPA, 1001, 5001, "hello")
	f.c(fPA, 1001, 5001, "hello")
	f.c(fPA, 1010, 5001, "x")
	f.s(fPA, 5001, 1006, "ok")
	f.a.FlushAll(f.now)
	if got == nil {
		t.Fatal("no Open")
	}
	if got.ID != 1 || got.A != cli || got.B != srv || !got.Oriented || got.Transport.String() != "tcp" {
		t.Errorf("conn = %+v", got)
	}
	if want := t0.Add(time.Millisecond); !got.FirstSeen.Equal(want) {
		t.Errorf("FirstSeen = %v, want %v", got.FirstSeen, want)
	}
	if want := t0.Add(7 * time.Millisecond); !got.LastSeen.Equal(want) {
		t.Errorf("LastSeen = %v, want %v", got.LastSeen, want)
	}
	wantA := DirStats{Packets: 5, Bytes: 6, Gaps: 1, GapBytes: 4, RetransmittedBytes: 5, OutOfOrder: 1}
	if got.Dirs[0] != wantA {
		t.Errorf("DirA = %+v, want %+v", got.Dirs[0], wantA)
	}
	wantB := DirStats{Packets: 2, Bytes: 2}
	if got.Dirs[1] != wantB {
		t.Errorf("DirB = %+v, want %+v", got.Dirs[1], wantB)
	}
}

func TestCloseReasonString(t *testing.T) {
	for r, want := range map[CloseReason]string{
		CloseFIN: "fin", CloseRST: "rst", CloseIdle: "idle", CloseEvicted: "evicted",
		CloseFlush: "flush", CloseReused: "reused", 0: "unknown",
	} {
		if got := r.String(); got != want {
			t.Errorf("%d: %q, want %q", r, got, want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{MaxConns: -1}.WithDefaults()
	want := Config{DefaultMaxBufferedPerConn, DefaultMaxBufferedTotal, DefaultMaxConns, DefaultIdleTimeout, DefaultUDPIdleTimeout}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
}
