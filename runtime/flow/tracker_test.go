package flow

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// handshake is SYN at 0, SYN-ACK at 10 ms and ACK at 12 ms, client ISN 1000
// and server ISN 5000: client data starts at 1001, server data at 5001.
func handshake() []seg { return handshakeWS(nil, nil) }

// handshakeWS is handshake with window scale options on the SYN (c) and the
// SYN-ACK (s); nil leaves an option out.
func handshakeWS(c, s *uint8) []seg {
	return []seg{
		{at: 0, flags: fS, seq: 1000, ws: c},
		{at: 10 * ms1, b: true, flags: fSA, seq: 5000, ack: 1001, ws: s},
		{at: 12 * ms1, flags: fA, seq: 1001, ack: 5001},
	}
}

// fill has the server advertise win and the client send two 100-byte
// segments, the second ending at 1201.
func fill(win uint16) []seg {
	return []seg{
		{at: 20 * ms1, b: true, flags: fA, seq: 5001, ack: 1001, win: w(win)},
		{at: 21 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 100},
		{at: 22 * ms1, flags: fPA, seq: 1101, ack: 5001, n: 100},
	}
}

func cat(parts ...[]seg) []seg {
	var out []seg
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// dir builds the expected counters of one direction; wire bytes are
// derived from packets and payload (every test frame is headerLen bytes plus
// payload, padded to 60).
func dir(packets, bytes, data uint64) sdk.FlowDirection {
	return sdk.FlowDirection{Packets: packets, Bytes: bytes, DataPackets: data}
}

func f64(v float64) *float64 { return &v }

// tcpCase is one crafted connection and what the tracker must make of it.
// c2s and s2c are compared whole except WireBytes, which check is left to
// the frame sizes (see wire in TestTracker).
type tcpCase struct {
	name      string
	segs      []seg
	clientIsB bool
	c2s, s2c  sdk.FlowDirection
	check     func(t *testing.T, f sdk.Flow)
}

var tcpCases = []tcpCase{
	{
		name: "clean connection",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 100},
			{at: 30 * ms1, b: true, flags: fA, seq: 5001, ack: 1101},
			{at: 35 * ms1, b: true, flags: fPA, seq: 5001, ack: 1101, n: 200},
			{at: 40 * ms1, flags: fA, seq: 1101, ack: 5201},
			{at: 50 * ms1, flags: fFA, seq: 1101, ack: 5201},
			{at: 51 * ms1, b: true, flags: fFA, seq: 5201, ack: 1102},
			{at: 52 * ms1, flags: fA, seq: 1102, ack: 5202},
		}),
		c2s: with(dir(6, 100, 1), func(d *sdk.FlowDirection) { d.FIN = 1 }),
		s2c: with(dir(4, 200, 1), func(d *sdk.FlowDirection) { d.FIN = 1 }),
		check: func(t *testing.T, f sdk.Flow) {
			want := sdk.Flow{
				ID: "x", Transport: "tcp",
				Client: sdk.Endpoint{IP: "10.0.0.1", Port: 40000}, Server: sdk.Endpoint{IP: "10.0.1.1", Port: 80},
				Start: t0, End: t0.Add(52 * ms1), DurationMs: 52,
				State: "closed", HandshakeSeen: true, Completeness: 31, Complete: true,
				SynAckMs: f64(10), AckMs: f64(2), HandshakeRTTMs: f64(12), TimeToFirstByteMs: f64(15),
				// Client data acked after 10 ms, server data after 5 ms.
				RTT:            &sdk.RTTStats{Samples: 2, MinMs: 5, AvgMs: 7.5, MaxMs: 10, JitterMs: 5},
				ClientToServer: f.ClientToServer, ServerToClient: f.ServerToClient,
			}
			if !reflect.DeepEqual(f, want) {
				t.Errorf("flow\n got %s\nwant %s", show(f), show(want))
			}
		},
	},
	{
		name: "sequence numbers wrap around",
		segs: []seg{
			{at: 0, flags: fS, seq: 0xFFFFFF80},
			{at: 10 * ms1, b: true, flags: fSA, seq: 0xFFFFFFF0, ack: 0xFFFFFF81},
			{at: 12 * ms1, flags: fA, seq: 0xFFFFFF81, ack: 0xFFFFFFF1},
			// 200 bytes across the wrap: 0xFFFFFF81 to 0x49.
			{at: 20 * ms1, flags: fPA, seq: 0xFFFFFF81, ack: 0xFFFFFFF1, n: 200},
			{at: 21 * ms1, flags: fPA, seq: 0x49, ack: 0xFFFFFFF1, n: 100},
			{at: 30 * ms1, b: true, flags: fA, seq: 0xFFFFFFF1, ack: 0xAD},
			// The server's 50 bytes wrap too: 0xFFFFFFF1 to 0x23.
			{at: 31 * ms1, b: true, flags: fPA, seq: 0xFFFFFFF1, ack: 0xAD, n: 50},
			// 0xAD..0x111 is not captured.
			{at: 40 * ms1, flags: fPA, seq: 0x111, ack: 0x23, n: 100},
			// And an old segment sent again, well after the reordering window.
			{at: 300 * ms1, flags: fPA, seq: 0x49, ack: 0x23, n: 100},
			{at: 310 * ms1, b: true, flags: fA, seq: 0x23, ack: 0x175},
		},
		c2s: with(dir(6, 500, 4), func(d *sdk.FlowDirection) { d.LostSegments, d.Retransmissions = 1, 1 }),
		s2c: dir(4, 50, 1),
		check: func(t *testing.T, f sdk.Flow) {
			// The first two segments, acked together at 30 ms, and the
			// server's data, acked at 40 ms, give 9 ms each; the resend of
			// 0x49 makes the final ACK ambiguous.
			if f.RTT == nil || f.RTT.Samples != 2 || f.RTT.MinMs != 9 || f.RTT.MaxMs != 9 {
				t.Errorf("rtt %+v, want two 9 ms samples", f.RTT)
			}
			if f.HandshakeRTTMs == nil || *f.HandshakeRTTMs != 12 {
				t.Errorf("handshake rtt %v", f.HandshakeRTTMs)
			}
			if f.RetransmissionRate != 0.2 {
				t.Errorf("retransmission rate %v, want 1 of 5 data segments", f.RetransmissionRate)
			}
		},
	},
	{
		name: "retransmission after a timeout gives no rtt sample",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 100},
			{at: 220 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 100},
			{at: 230 * ms1, b: true, flags: fA, seq: 5001, ack: 1101},
		}),
		c2s: with(dir(4, 200, 2), func(d *sdk.FlowDirection) { d.Retransmissions = 1 }),
		s2c: dir(2, 0, 0),
		check: func(t *testing.T, f sdk.Flow) {
			if f.RTT != nil {
				t.Errorf("rtt %+v from an ambiguous ACK", f.RTT)
			}
			if f.RetransmissionRate != 0.5 {
				t.Errorf("retransmission rate %v", f.RetransmissionRate)
			}
			if f.State != "open" || f.Complete || f.Completeness != 15 {
				t.Errorf("state %q complete %v completeness %d", f.State, f.Complete, f.Completeness)
			}
		},
	},
	{
		name: "fast retransmission after three duplicate acks",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 100},
			{at: 21 * ms1, flags: fPA, seq: 1101, ack: 5001, n: 100},
			{at: 22 * ms1, flags: fPA, seq: 1201, ack: 5001, n: 100},
			{at: 23 * ms1, flags: fPA, seq: 1301, ack: 5001, n: 100},
			{at: 30 * ms1, b: true, flags: fA, seq: 5001, ack: 1101},
			{at: 31 * ms1, b: true, flags: fA, seq: 5001, ack: 1101},
			{at: 32 * ms1, b: true, flags: fA, seq: 5001, ack: 1101},
			{at: 33 * ms1, b: true, flags: fA, seq: 5001, ack: 1101},
			{at: 35 * ms1, flags: fPA, seq: 1101, ack: 5001, n: 100},
			{at: 45 * ms1, b: true, flags: fA, seq: 5001, ack: 1401},
		}),
		c2s: with(dir(7, 500, 5), func(d *sdk.FlowDirection) { d.FastRetransmissions = 1 }),
		s2c: with(dir(6, 0, 0), func(d *sdk.FlowDirection) { d.DupAcks = 3 }),
		check: func(t *testing.T, f sdk.Flow) {
			if f.RTT == nil || f.RTT.Samples != 1 || f.RTT.MaxMs != 10 {
				t.Errorf("rtt %+v, want only the first segment's 10 ms", f.RTT)
			}
			if f.RetransmissionRate != 0.2 {
				t.Errorf("retransmission rate %v", f.RetransmissionRate)
			}
		},
	},
	{
		name: "lost segment, out-of-order fill, late retransmission",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 100},
			{at: 21 * ms1, flags: fPA, seq: 1201, ack: 5001, n: 100},
			// Within the 12 ms initial RTT: reordered, not resent.
			{at: 22 * ms1, flags: fPA, seq: 1101, ack: 5001, n: 100},
			{at: 200 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 100},
		}),
		c2s: with(dir(6, 400, 4), func(d *sdk.FlowDirection) { d.LostSegments, d.OutOfOrder, d.Retransmissions = 1, 1, 1 }),
		s2c: dir(1, 0, 0),
	},
	{
		// Data the peer had already acknowledged is what Wireshark calls a
		// spurious retransmission: a retransmission to the flow.
		name: "spurious and partly new retransmissions",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 10},
			{at: 30 * ms1, b: true, flags: fA, seq: 5001, ack: 1011},
			{at: 31 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 10},
			{at: 32 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 20},
			{at: 100 * ms1, flags: fPA, seq: 1005, ack: 5001, n: 20},
		}),
		c2s: with(dir(6, 60, 4), func(d *sdk.FlowDirection) { d.Retransmissions = 3 }),
		s2c: dir(2, 0, 0),
	},
	{
		// Duplicate ACKs more than 20 ms old do not make a resend fast;
		// fresh ones do. The first ACK repeats the SYN-ACK's: a duplicate
		// too.
		name: "fast only within 20 ms of the duplicate acks",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 10},
			{at: 21 * ms1, flags: fPA, seq: 1011, ack: 5001, n: 10},
			{at: 22 * ms1, b: true, flags: fA, seq: 5001, ack: 1001},
			{at: 23 * ms1, b: true, flags: fA, seq: 5001, ack: 1001},
			{at: 24 * ms1, b: true, flags: fA, seq: 5001, ack: 1001},
			{at: 50 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 10},
			{at: 51 * ms1, b: true, flags: fA, seq: 5001, ack: 1011},
			{at: 52 * ms1, b: true, flags: fA, seq: 5001, ack: 1011},
			{at: 53 * ms1, b: true, flags: fA, seq: 5001, ack: 1011},
			{at: 54 * ms1, flags: fPA, seq: 1011, ack: 5001, n: 10},
		}),
		c2s: with(dir(6, 40, 4), func(d *sdk.FlowDirection) { d.Retransmissions, d.FastRetransmissions = 1, 1 }),
		s2c: with(dir(7, 0, 0), func(d *sdk.FlowDirection) { d.DupAcks = 5 }),
	},
	{
		// Data or a new window ends a run of duplicate ACKs.
		name: "duplicate ack runs",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 10},
			{at: 21 * ms1, b: true, flags: fA, seq: 5001, ack: 1011},
			{at: 22 * ms1, b: true, flags: fA, seq: 5001, ack: 1011},
			{at: 23 * ms1, b: true, flags: fPA, seq: 5001, ack: 1011, n: 5},
			{at: 24 * ms1, b: true, flags: fA, seq: 5006, ack: 1011},
			{at: 25 * ms1, b: true, flags: fA, seq: 5006, ack: 1011},
			{at: 26 * ms1, b: true, flags: fA, seq: 5006, ack: 1011, win: w(100)},
			{at: 27 * ms1, b: true, flags: fA, seq: 5006, ack: 1011, win: w(100)},
			{at: 28 * ms1, flags: fPA, seq: 1001, ack: 5006, n: 10},
		}),
		// The last run is one ACK long, and the resend does not start
		// where the ACKs point: not fast.
		c2s: with(dir(4, 20, 2), func(d *sdk.FlowDirection) { d.Retransmissions = 1 }),
		s2c: with(dir(8, 5, 1), func(d *sdk.FlowDirection) { d.DupAcks = 4 }),
	},
	{
		name: "retransmitted FIN",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, flags: fFA, seq: 1001, ack: 5001},
			{at: 21 * ms1, flags: fFA, seq: 1001, ack: 5001},
			{at: 60 * ms1, flags: fFA, seq: 1001, ack: 5001},
		}),
		c2s: with(dir(5, 0, 0), func(d *sdk.FlowDirection) { d.FIN, d.Retransmissions = 3, 2 }),
		s2c: dir(1, 0, 0),
		check: func(t *testing.T, f sdk.Flow) {
			if f.RetransmissionRate != 0 || f.State != "half-closed" {
				t.Errorf("rate %v state %q: FINs are not data", f.RetransmissionRate, f.State)
			}
		},
	},
	{
		name: "zero window and its probe",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, b: true, flags: fA, seq: 5001, ack: 1001, win: w(0)},
			// One byte against the closed window: a probe, not data
			// retransmitted later.
			{at: 30 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 1},
			{at: 31 * ms1, b: true, flags: fA, seq: 5001, ack: 1001, win: w(0)},
			{at: 40 * ms1, b: true, flags: fA, seq: 5001, ack: 1001, win: w(1000)},
			{at: 41 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 100},
		}),
		c2s: dir(4, 101, 2),
		s2c: with(dir(4, 0, 0), func(d *sdk.FlowDirection) { d.ZeroWindow = 2 }),
	},
	{
		// 25 << 3 = 200 bytes: the second segment fills the window.
		name: "window full with scaling",
		segs: cat(handshakeWS(ws(2), ws(3)), fill(25)),
		c2s:  with(dir(4, 200, 2), func(d *sdk.FlowDirection) { d.WindowFull = 1 }),
		s2c:  dir(2, 0, 0),
	},
	{
		// The server did not agree to scaling, so neither side scales.
		name: "window full without scaling",
		segs: cat(handshakeWS(ws(2), nil), fill(200)),
		c2s:  with(dir(4, 200, 2), func(d *sdk.FlowDirection) { d.WindowFull = 1 }),
		s2c:  dir(2, 0, 0),
	},
	{
		// Read unscaled, 25 bytes of window are far from full.
		name: "scaled window is not taken for bytes",
		segs: cat(handshakeWS(ws(2), ws(3)), fill(200)),
		c2s:  dir(4, 200, 2),
		s2c:  dir(2, 0, 0),
	},
	{
		name: "keep-alives and their acks",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 10},
			{at: 21 * ms1, b: true, flags: fA, seq: 5001, ack: 1011},
			{at: 100 * ms1, flags: fA, seq: 1010, ack: 5001},
			{at: 101 * ms1, b: true, flags: fA, seq: 5001, ack: 1011},
			{at: 200 * ms1, flags: fA, seq: 1010, ack: 5001, n: 1},
			{at: 201 * ms1, b: true, flags: fA, seq: 5001, ack: 1011},
		}),
		c2s: with(dir(5, 11, 2), func(d *sdk.FlowDirection) { d.KeepAlives = 2 }),
		s2c: dir(4, 0, 0),
		check: func(t *testing.T, f sdk.Flow) {
			if f.RetransmissionRate != 0 || f.RTT == nil || f.RTT.Samples != 1 {
				t.Errorf("rate %v rtt %+v: keep-alives are not data", f.RetransmissionRate, f.RTT)
			}
		},
	},
	{
		name: "reset connection",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 10},
			{at: 21 * ms1, b: true, flags: fRA, seq: 5001, ack: 1011},
		}),
		c2s: dir(3, 10, 1),
		s2c: with(dir(2, 0, 0), func(d *sdk.FlowDirection) { d.RST = 1 }),
		check: func(t *testing.T, f sdk.Flow) {
			if f.State != "reset" || f.Completeness != 47 || !f.Complete || !f.HandshakeSeen {
				t.Errorf("state %q completeness %d complete %v handshake %v", f.State, f.Completeness, f.Complete, f.HandshakeSeen)
			}
		},
	},
	{
		name: "mid-stream capture without handshake",
		segs: []seg{
			{at: 0, flags: fPA, seq: 1001, ack: 5001, n: 100},
			{at: 5 * ms1, b: true, flags: fA, seq: 5001, ack: 1101},
			{at: 6 * ms1, b: true, flags: fPA, seq: 5001, ack: 1101, n: 50},
			{at: 8 * ms1, flags: fA, seq: 1101, ack: 5051},
			// A full window would need the scale the handshake carries.
			{at: 9 * ms1, b: true, flags: fA, seq: 5051, ack: 1101, win: w(100)},
			{at: 10 * ms1, flags: fPA, seq: 1101, ack: 5051, n: 100},
		},
		c2s: dir(3, 200, 2),
		s2c: dir(3, 50, 1),
		check: func(t *testing.T, f sdk.Flow) {
			if f.HandshakeSeen || f.SynAckMs != nil || f.AckMs != nil || f.HandshakeRTTMs != nil {
				t.Errorf("handshake figures without a handshake: %s", show(f))
			}
			// Data, and Wireshark's ACK bit for the bare ACKs.
			if f.Completeness != 12 || f.State != "open" || f.Complete {
				t.Errorf("completeness %d state %q complete %v", f.Completeness, f.State, f.Complete)
			}
			if f.RTT == nil || f.RTT.Samples != 2 || f.RTT.MinMs != 2 || f.RTT.MaxMs != 5 || f.RTT.JitterMs != 3 {
				t.Errorf("rtt %+v", f.RTT)
			}
			if f.TimeToFirstByteMs == nil || *f.TimeToFirstByteMs != 6 {
				t.Errorf("ttfb %v", f.TimeToFirstByteMs)
			}
		},
	},
	{
		name: "the pipeline decides B is the client",
		segs: []seg{
			{at: 0, flags: fPA, seq: 1001, ack: 5001, n: 100},
			{at: 10 * ms1, b: true, flags: fPA, seq: 5001, ack: 1101, n: 20},
			{at: 15 * ms1, flags: fPA, seq: 1101, ack: 5021, n: 300},
		},
		clientIsB: true,
		c2s:       dir(1, 20, 1),
		s2c:       dir(2, 400, 2),
		check: func(t *testing.T, f sdk.Flow) {
			if f.Client.Port != 80 || f.Server.Port != 40000 {
				t.Errorf("client %v server %v", f.Client, f.Server)
			}
			if f.TimeToFirstByteMs == nil || *f.TimeToFirstByteMs != 5 {
				t.Errorf("ttfb %v, want from B's first byte", f.TimeToFirstByteMs)
			}
		},
	},
	{
		name: "retransmitted SYN",
		segs: []seg{
			{at: 0, flags: fS, seq: 1000},
			{at: 1000 * ms1, flags: fS, seq: 1000},
			{at: 1010 * ms1, b: true, flags: fSA, seq: 5000, ack: 1001},
			{at: 1012 * ms1, flags: fA, seq: 1001, ack: 5001},
		},
		c2s: with(dir(3, 0, 0), func(d *sdk.FlowDirection) { d.Retransmissions = 1 }),
		s2c: dir(1, 0, 0),
		check: func(t *testing.T, f sdk.Flow) {
			// The SYN-ACK answers the SYN that got through.
			if f.SynAckMs == nil || *f.SynAckMs != 10 || f.HandshakeRTTMs == nil || *f.HandshakeRTTMs != 12 {
				t.Errorf("syn-ack %v handshake %v", f.SynAckMs, f.HandshakeRTTMs)
			}
			if f.RetransmissionRate != 0 || f.Completeness != 7 || f.Complete {
				t.Errorf("rate %v completeness %d complete %v", f.RetransmissionRate, f.Completeness, f.Complete)
			}
		},
	},
	{
		name: "half-closed",
		segs: cat(handshake(), []seg{
			{at: 20 * ms1, flags: fPA, seq: 1001, ack: 5001, n: 5},
			{at: 21 * ms1, flags: fFA, seq: 1006, ack: 5001},
			{at: 22 * ms1, b: true, flags: fA, seq: 5001, ack: 1007},
		}),
		c2s: with(dir(4, 5, 1), func(d *sdk.FlowDirection) { d.FIN = 1 }),
		s2c: dir(2, 0, 0),
		check: func(t *testing.T, f sdk.Flow) {
			if f.State != "half-closed" || f.Completeness != 31 || !f.Complete {
				t.Errorf("state %q completeness %d complete %v", f.State, f.Completeness, f.Complete)
			}
		},
	},
}

func with(d sdk.FlowDirection, fn func(*sdk.FlowDirection)) sdk.FlowDirection {
	fn(&d)
	return d
}

func show(f sdk.Flow) string {
	p := func(v *float64) any {
		if v == nil {
			return nil
		}
		return *v
	}
	type flat struct {
		sdk.Flow
		SynAck, Ack, HS, TTFB any
		RTT                   any
	}
	var rtt any
	if f.RTT != nil {
		rtt = *f.RTT
	}
	return fmt.Sprintf("%+v", flat{Flow: f, SynAck: p(f.SynAckMs), Ack: p(f.AckMs), HS: p(f.HandshakeRTTMs), TTFB: p(f.TimeToFirstByteMs), RTT: rtt})
}

func TestTracker(t *testing.T) {
	for _, tt := range tcpCases {
		t.Run(tt.name, func(t *testing.T) {
			f := track(packet.TCP, tt.segs).Flow("x", cli, srv, tt.clientIsB)
			c2s, s2c := f.ClientToServer, f.ServerToClient
			// Wire bytes follow from the frames; check them apart so the
			// tables above stay readable.
			var wire [2]uint64
			for _, s := range tt.segs {
				d, p := s.segment(packet.TCP)
				if tt.clientIsB {
					d ^= 1
				}
				wire[d] += uint64(p.WireLen)
			}
			if c2s.WireBytes != wire[0] || s2c.WireBytes != wire[1] {
				t.Errorf("wire bytes %d/%d, want %d/%d", c2s.WireBytes, s2c.WireBytes, wire[0], wire[1])
			}
			c2s.WireBytes, s2c.WireBytes = 0, 0
			if c2s != tt.c2s {
				t.Errorf("client to server\n got %+v\nwant %+v", c2s, tt.c2s)
			}
			if s2c != tt.s2c {
				t.Errorf("server to client\n got %+v\nwant %+v", s2c, tt.s2c)
			}
			if f.Transport != "tcp" || f.ID != "x" {
				t.Errorf("transport %q id %q", f.Transport, f.ID)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func TestUDP(t *testing.T) {
	segs := []seg{
		{at: 0, n: 30},
		{at: 4 * ms1, b: true, n: 60},
		{at: 10 * ms1, n: 30},
		{at: 11 * ms1, b: true},
	}
	f := track(packet.UDP, segs).Flow("u", cli, srv, false)
	if f.Transport != "udp" || f.State != "active" || f.Completeness != 0 || f.HandshakeSeen || f.RTT != nil {
		t.Errorf("flow %s", show(f))
	}
	if want := (sdk.FlowDirection{Packets: 2, Bytes: 60, WireBytes: 72 + 72, DataPackets: 2}); f.ClientToServer != want {
		t.Errorf("client to server %+v, want %+v", f.ClientToServer, want)
	}
	if want := (sdk.FlowDirection{Packets: 2, Bytes: 60, WireBytes: 102 + 60, DataPackets: 1}); f.ServerToClient != want {
		t.Errorf("server to client %+v, want %+v", f.ServerToClient, want)
	}
	if f.TimeToFirstByteMs == nil || *f.TimeToFirstByteMs != 4 || f.DurationMs != 11 {
		t.Errorf("ttfb %v duration %v", f.TimeToFirstByteMs, f.DurationMs)
	}
}

func TestOutstandingIsBounded(t *testing.T) {
	tr := New(packet.TCP)
	var segs []seg
	seq := uint32(1001)
	for i := range 200 {
		segs = append(segs, seg{at: time.Duration(i) * ms1, flags: fPA, seq: seq, ack: 5001, n: 10})
		seq += 10
	}
	for _, s := range segs {
		tr.Observe(s.segment(packet.TCP))
	}
	if q := &tr.h[sdk.DirA].out; q.len() != maxOutstanding || cap(q.s) > maxOutstanding {
		t.Fatalf("%d outstanding in a slice of %d, bound %d", q.len(), cap(q.s), maxOutstanding)
	}
	// One ACK for everything: the newest segment it covers that was still
	// tracked is the 64th, sent at 63 ms.
	tr.Observe(seg{at: 300 * ms1, b: true, flags: fA, seq: 5001, ack: seq}.segment(packet.TCP))
	f := tr.Flow("x", cli, srv, false)
	if f.RTT == nil || f.RTT.Samples != 1 || f.RTT.MinMs != 300-63 {
		t.Fatalf("rtt %+v", f.RTT)
	}
	if tr.h[sdk.DirA].out.len() != 0 {
		t.Fatalf("%d still outstanding after the final ACK", tr.h[sdk.DirA].out.len())
	}
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	tr := New(packet.TCP)
	for _, s := range handshake() {
		tr.Observe(s.segment(packet.TCP))
	}
	data := seg{flags: fPA, seq: 1001, ack: 5001, n: 100}
	ack := seg{b: true, flags: fA, seq: 5001}
	_, ds := data.segment(packet.TCP)
	_, as := ack.segment(packet.TCP)
	at := t0.Add(time.Second)
	step := func() {
		for range 3 {
			at = at.Add(ms1)
			ds.Timestamp = at
			tr.Observe(sdk.DirA, ds)
			ds.Seq += 100
		}
		at = at.Add(ms1)
		as.Timestamp, as.Ack = at, ds.Seq
		tr.Observe(sdk.DirB, as)
	}
	for range 100 {
		step() // let the outstanding queue reach its working size
	}
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Fatalf("%v allocations per round trip", n)
	}
	if f := tr.Flow("x", cli, srv, false); f.RTT == nil || f.RTT.Samples < 1000 || f.ClientToServer.Retransmissions != 0 {
		t.Fatalf("rtt %+v c2s %+v", f.RTT, f.ClientToServer)
	}
}

func TestResetForgetsTheConnection(t *testing.T) {
	segs := tcpCases[0].segs
	tr := track(packet.TCP, tcpCases[3].segs)
	tr.Reset(packet.TCP)
	for _, s := range segs {
		tr.Observe(s.segment(packet.TCP))
	}
	got, want := tr.Flow("x", cli, srv, false), track(packet.TCP, segs).Flow("x", cli, srv, false)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after Reset\n got %s\nwant %s", show(got), show(want))
	}
	tr.Reset(packet.UDP)
	if f := tr.Flow("y", cli, srv, false); f.Transport != "udp" || f.ClientToServer.Packets != 0 || !f.Start.IsZero() {
		t.Fatalf("after Reset to UDP: %s", show(f))
	}
}

func TestSeqCompare(t *testing.T) {
	tests := []struct {
		a, b       uint32
		lt, gt, le bool
	}{
		{1, 2, true, false, true},
		{2, 1, false, true, false},
		{5, 5, false, false, true},
		{math.MaxUint32, 0, true, false, true}, // 0 follows 2^32-1
		{0, math.MaxUint32, false, true, false},
		{0x7FFFFFF0, 0x10, false, true, false},
	}
	for _, tt := range tests {
		if seqLT(tt.a, tt.b) != tt.lt || seqGT(tt.a, tt.b) != tt.gt || seqLE(tt.a, tt.b) != tt.le {
			t.Errorf("%#x vs %#x: lt %v gt %v le %v", tt.a, tt.b, seqLT(tt.a, tt.b), seqGT(tt.a, tt.b), seqLE(tt.a, tt.b))
		}
	}
}
