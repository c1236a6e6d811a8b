package flow

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// tsharkFields are read per frame; the expert ones are "1" when set.
var tsharkFields = []string{
	"tcp.stream", "tcp.srcport", "frame.len", "tcp.len", "tcp.flags.fin", "tcp.flags.reset",
	"tcp.analysis.retransmission",
	"tcp.analysis.fast_retransmission", "tcp.analysis.out_of_order",
	"tcp.analysis.duplicate_ack", "tcp.analysis.lost_segment",
	"tcp.analysis.zero_window", "tcp.analysis.window_full",
	"tcp.analysis.keep_alive", "tcp.completeness", "tcp.analysis.initial_rtt",
}

// TestAgainstTshark checks every crafted connection's counters against
// Wireshark's tcp.analysis, the definitions they follow. It needs tshark.
func TestAgainstTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	var convs [][]seg
	for _, tt := range tcpCases {
		convs = append(convs, tt.segs)
	}
	file := filepath.Join(t.TempDir(), "cases.pcap")
	if err := os.WriteFile(file, pcap(t, convs), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-2", "-r", file, "-T", "fields", "-E", "separator=/t"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.Bytes())
	}

	type conv struct {
		dirs         [2]sdk.FlowDirection // indexed by sender: 0 the client port
		completeness int
		initialRTT   string
	}
	got := map[int]*conv{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		v := strings.Split(line, "\t")
		if len(v) != len(tsharkFields) {
			t.Fatalf("tshark line %q", line)
		}
		field := func(name string) string {
			for i, f := range tsharkFields {
				if f == name {
					return v[i]
				}
			}
			panic(name)
		}
		// An expert field is "1" when set, "1,1" when set twice.
		set := func(name string) uint64 {
			if s := field(name); s != "" && s != "0" && s != "False" {
				return 1
			}
			return 0
		}
		num := func(name string) uint64 {
			n, _ := strconv.ParseUint(field(name), 10, 64)
			return n
		}
		stream := int(num("tcp.stream"))
		c := got[stream]
		if c == nil {
			c = &conv{}
			got[stream] = c
		}
		d := &c.dirs[0]
		if num("tcp.srcport") == 80 {
			d = &c.dirs[1]
		}
		d.Packets++
		d.WireBytes += num("frame.len")
		d.Bytes += num("tcp.len")
		if num("tcp.len") > 0 {
			d.DataPackets++
		}
		d.FIN += set("tcp.flags.fin")
		d.RST += set("tcp.flags.reset")
		fast := set("tcp.analysis.fast_retransmission")
		d.FastRetransmissions += fast
		// Wireshark marks fast and spurious retransmissions as
		// retransmissions too; the flow counts a fast one once, as fast.
		d.Retransmissions += set("tcp.analysis.retransmission") - fast
		d.OutOfOrder += set("tcp.analysis.out_of_order")
		d.DupAcks += set("tcp.analysis.duplicate_ack")
		d.LostSegments += set("tcp.analysis.lost_segment")
		d.ZeroWindow += set("tcp.analysis.zero_window")
		d.WindowFull += set("tcp.analysis.window_full")
		d.KeepAlives += set("tcp.analysis.keep_alive")
		// With two passes every frame shows the connection's final
		// completeness, except that Wireshark leaves the first frame out
		// of it in some cases; the largest value is the final one.
		c.completeness = max(c.completeness, int(num("tcp.completeness")))
		if s := field("tcp.analysis.initial_rtt"); s != "" {
			c.initialRTT = s
		}
	}
	if len(got) != len(tcpCases) {
		t.Fatalf("tshark saw %d connections, wrote %d", len(got), len(tcpCases))
	}
	for i, tt := range tcpCases {
		t.Run(tt.name, func(t *testing.T) {
			ws := got[i]
			f := track(packet.TCP, tt.segs).Flow("x", cli, srv, false)
			if f.ClientToServer != ws.dirs[0] {
				t.Errorf("A to B\n flow    %+v\n tshark  %+v", f.ClientToServer, ws.dirs[0])
			}
			if f.ServerToClient != ws.dirs[1] {
				t.Errorf("B to A\n flow    %+v\n tshark  %+v", f.ServerToClient, ws.dirs[1])
			}
			if f.Completeness != ws.completeness {
				t.Errorf("completeness %d, tshark %d", f.Completeness, ws.completeness)
			}
			var rtt string
			if f.HandshakeRTTMs != nil {
				rtt = strconv.FormatFloat(*f.HandshakeRTTMs/1000, 'f', 9, 64)
			}
			if rtt != ws.initialRTT {
				t.Errorf("handshake rtt %q s, tshark's initial rtt %q s", rtt, ws.initialRTT)
			}
		})
	}
}
