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
	DissectorErrors int64 `json:"dissector_errors"`
	// ErrorsByDissector breaks DissectorErrors down by dissector, with a
	// few examples each, so that a count can be investigated.
	ErrorsByDissector map[string]*DissectorErrors `json:"dissector_errors_by_dissector,omitempty"`
	Faults            map[string]int64            `json:"faults_by_dissector,omitempty"`
	Rejected          int64                       `json:"streams_rejected"`
	DroppedAfterFault int64                       `json:"streams_dropped_after_fault"`
	// Redetected counts streams handed back to detection after the
	// dissector that held them faulted, without that dissector.
	Redetected int64 `json:"streams_redetected_after_fault"`
	// Contested counts streams a plugin's probe claimed with the same
	// confidence as the dissector that took them (examples under
	// ErrorsByDissector, kind "contested").
	Contested int64 `json:"streams_contested"`
	// ProbesSkipped counts probes detection did not ask because their
	// dissector's bound (its prefilter) could not beat a claim already
	// made: modules not compiled nor run for an answer that changed
	// nothing.
	ProbesSkipped int64 `json:"probes_skipped,omitempty"`
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

// MaxErrorExamples is how many examples DissectorErrors keeps.
const MaxErrorExamples = 5

// DissectorErrors is one dissector's errors in a run.
type DissectorErrors struct {
	Count    int64            `json:"count"`
	Examples []DissectorError `json:"examples"`
}

// Merge adds o's count and as many of its examples as there is room for.
func (d *DissectorErrors) Merge(o *DissectorErrors) {
	d.Count += o.Count
	for _, e := range o.Examples {
		if len(d.Examples) >= MaxErrorExamples {
			break
		}
		d.Examples = append(d.Examples, e)
	}
}

// DissectorError is one error a dissector met.
type DissectorError struct {
	// Kind is "fault" (the instance trapped or failed a call), "rejected"
	// (it gave up on a connection it had claimed), "malformed" (it
	// emitted a record it could not parse) or "contested" (its probe
	// claimed a connection with the confidence of the dissector that took
	// it; not counted in Stats.DissectorErrors).
	Kind string `json:"kind"`
	// Stream is the connection's stream id (as in records); Conn its
	// transport and endpoints, "tcp 10.0.0.1:40000 ↔ 10.0.1.1:80". Both
	// are empty for a fault outside any connection (a probe).
	Stream string `json:"stream,omitempty"`
	Conn   string `json:"conn,omitempty"`
	// Record is the id of the malformed record.
	Record string `json:"record,omitempty"`
	// Time is the capture time of the connection's last packet then.
	Time  time.Time `json:"time,omitzero"`
	Error string    `json:"error"`
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
	s.Redetected += o.Redetected
	s.Contested += o.Contested
	s.ProbesSkipped += o.ProbesSkipped
	s.PlaintextDuplicates += o.PlaintextDuplicates
	s.PlaintextSuppressed += o.PlaintextSuppressed
	for k, v := range o.ByProtocol {
		if s.ByProtocol == nil {
			s.ByProtocol = map[string]int64{}
		}
		s.ByProtocol[k] += v
	}
	for k, v := range o.ErrorsByDissector {
		if s.ErrorsByDissector == nil {
			s.ErrorsByDissector = map[string]*DissectorErrors{}
		}
		if s.ErrorsByDissector[k] == nil {
			s.ErrorsByDissector[k] = &DissectorErrors{}
		}
		s.ErrorsByDissector[k].Merge(v)
	}
	for k, v := range o.Faults {
		if s.Faults == nil {
			s.Faults = map[string]int64{}
		}
		s.Faults[k] += v
	}
}
