package pipeline

import (
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/decode"
	"github.com/kubeshark-wasm/kubeshark/runtime/reassembly"
)

// Stats is what one run of the pipeline did.
type Stats struct {
	Packets    int64            `json:"packets"`
	Bytes      int64            `json:"bytes"`
	TCPStreams int64            `json:"tcp_streams"`
	UDPStreams int64            `json:"udp_flows"`
	Records    int64            `json:"records"`
	ByProtocol map[string]int64 `json:"records_by_protocol"`
	Undetected int64            `json:"streams_undetected"`
	// Flows counts the L4 flows handed to the sink: one per connection
	// when the sink is a FlowSink, none otherwise.
	Flows int64 `json:"flows"`
	// DissectorErrors counts instance faults, connections a dissector
	// rejected or could not parse, and records it emitted as malformed.
	DissectorErrors   int64            `json:"dissector_errors"`
	Faults            map[string]int64 `json:"faults_by_dissector,omitempty"`
	Rejected          int64            `json:"streams_rejected"`
	DroppedAfterFault int64            `json:"streams_dropped_after_fault"`
	// PlaintextDuplicates counts plaintext chunks dropped because the
	// other end of the same connection was traced first;
	// PlaintextSuppressed counts packet records dropped because the
	// connection's plaintext is captured.
	PlaintextDuplicates int64            `json:"plaintext_duplicates,omitempty"`
	PlaintextSuppressed int64            `json:"plaintext_suppressed,omitempty"`
	Decode              decode.Stats     `json:"decode"`
	Reassembly          reassembly.Stats `json:"reassembly"`
	Elapsed             time.Duration    `json:"elapsed_ns"`
}

func (s *Stats) add(o *Stats) {
	s.TCPStreams += o.TCPStreams
	s.UDPStreams += o.UDPStreams
	s.Records += o.Records
	s.Flows += o.Flows
	s.Undetected += o.Undetected
	s.DissectorErrors += o.DissectorErrors
	s.Rejected += o.Rejected
	s.DroppedAfterFault += o.DroppedAfterFault
	s.PlaintextDuplicates += o.PlaintextDuplicates
	s.PlaintextSuppressed += o.PlaintextSuppressed
	for k, v := range o.ByProtocol {
		if s.ByProtocol == nil {
			s.ByProtocol = map[string]int64{}
		}
		s.ByProtocol[k] += v
	}
	for k, v := range o.Faults {
		if s.Faults == nil {
			s.Faults = map[string]int64{}
		}
		s.Faults[k] += v
	}
}
