package synth

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func runIncident(t *testing.T, name string) (GroundTruth, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // packet-loss runs on the real clock
	defer cancel()
	var buf bytes.Buffer
	gt, err := Incident(ctx, &buf, name, IncidentOptions{Start: cascadeStart})
	if errors.Is(err, ErrMissingTool) || errors.Is(err, ErrNeedsRoot) {
		t.Skipf("%v (make deps installs it)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return gt, buf.Bytes()
}

// TestIncidentsAreDeterministicAndCarryTheirEvidence runs every incident
// twice: the ground truth must be the same, the capture must hold the
// evidence, and the two captures must be the same bytes (the same stream
// of bytes for HTTP/2).
func TestIncidentsAreDeterministicAndCarryTheirEvidence(t *testing.T) {
	for _, name := range SortedIncidentNames() {
		t.Run(name, func(t *testing.T) {
			gt, pcap := runIncident(t, name)
			if gt.Scenario != name || gt.RootCause == "" || gt.Kind == "" || gt.Description == "" {
				t.Fatalf("incomplete ground truth: %+v", gt)
			}
			// The packet-loss incident runs on the real clock: its onset
			// is when the loss was switched on, within a slot of the
			// others'.
			real := name == "packet-loss"
			if want := cascadeStart.Add(incidentOnset * time.Second); !gt.Onset.Equal(want) && !(real && gt.Onset.Sub(want) >= 0 && gt.Onset.Sub(want) < 100*time.Millisecond) {
				t.Errorf("onset %v, want %v", gt.Onset, want)
			}
			if gt.End.Before(cascadeStart.Add(incidentSlots*time.Second)) || gt.End.After(cascadeStart.Add(incidentSlots*time.Second+time.Second)) {
				t.Errorf("capture ends at %v, want one minute after the start", gt.End)
			}
			ev := gt.Evidence
			// A TLS handshake record has no status: its alert is the evidence.
			if ev.Method == "" || ev.Path == "" || (ev.Status == 0 && gt.Kind != "latency" && ev.Method != "ClientHello") || ev.BodyContains == "" {
				t.Fatalf("incomplete evidence: %+v", ev)
			}
			// HTTP/2 sends one exchange in several writes that loopback
			// reads may join or not: the bytes and records are the same
			// every run, their cut into segments is not. Its headers are
			// HPACK-compressed, and DNS carries an rcode, not text.
			// TLS records are written as crypto/tls flushes them, which
			// varies as HTTP/2's writes do (and its key exchange draws
			// bytes beyond the seeded streams).
			h2 := strings.HasPrefix(name, "grpc-") || name == "tls-expired"
			// DNS carries an rcode and TLS an alert number, not their names.
			if !h2 && !strings.HasPrefix(name, "dns-") && name != "tls-expired" {
				if !bytes.Contains(pcap, []byte(ev.BodyContains)) || !bytes.Contains(pcap, []byte(ev.Path)) {
					t.Errorf("the capture lacks the evidence %q on %s", ev.BodyContains, ev.Path)
				}
			}
			if real {
				// What a random loss hits differs run to run: one run,
				// and the retransmissions it caused.
				if n := retransmissions(t, pcap); n == 0 {
					t.Errorf("no TCP retransmission in the capture")
				}
				return
			}
			gt2, pcap2 := runIncident(t, name)
			// A real PostgreSQL server sends a random cancel key
			// (BackendKeyData) and its latency is measured, not set:
			// the time line and the evidence are the same every run,
			// the capture's bytes are not.
			// Go's resolver draws its query IDs at random.
			measured := name == "slow-db" || strings.HasPrefix(name, "dns-")
			if h2 || measured {
				gt2.Packets = gt.Packets
			}
			if gt2 != gt {
				t.Errorf("two runs disagree:\n%+v\n%+v", gt, gt2)
			}
			if !h2 && !measured && !bytes.Equal(pcap, pcap2) {
				t.Errorf("two runs wrote different captures (%d and %d bytes)", len(pcap), len(pcap2))
			}
		})
	}
}

func TestIncidentUnknownName(t *testing.T) {
	var buf bytes.Buffer
	_, err := Incident(context.Background(), &buf, "no-such", IncidentOptions{})
	if !errors.Is(err, ErrUnknownIncident) || !strings.Contains(err.Error(), "no-such") {
		t.Fatalf("err = %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %d bytes for an unknown scenario", buf.Len())
	}
}

func TestCascadeTruthFollowsTheRun(t *testing.T) {
	_, st := writeCascade(t, CascadeOptions{Checkouts: 10, Start: cascadeStart})
	gt := CascadeTruth(st)
	if gt.RootCause != "10.0.0.30:8080" || !gt.Onset.Equal(st.FailureOnset) || !gt.Onset.Equal(cascadeStart.Add(5*time.Second)) ||
		gt.Evidence.Status != 503 || st.Payments.Endpoints["POST /api/payments/charge"][gt.Evidence.Status] == 0 {
		t.Fatalf("ground truth %+v for a run whose payments answered %v", gt, st.Payments.Endpoints)
	}
	_, healthy := writeCascade(t, CascadeOptions{Checkouts: 4, FailAfter: 4, Start: cascadeStart})
	if gt := CascadeTruth(healthy); gt != (GroundTruth{}) {
		t.Fatalf("a run without failures has ground truth %+v", gt)
	}
}

// retransmissions counts the TCP segments of a capture that carry data
// already sent on their connection (the same sequence number again).
func retransmissions(t *testing.T, pcap []byte) int {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		flow gopacket.Flow
		seq  uint32
	}
	seen, n := map[key]bool{}, 0
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || len(tcp.Payload) == 0 || p.NetworkLayer() == nil {
			continue
		}
		k := key{p.NetworkLayer().NetworkFlow(), tcp.Seq}
		if seen[k] {
			n++
		}
		seen[k] = true
	}
	return n
}
