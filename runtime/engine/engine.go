package engine

import (
	"context"
	"errors"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// ErrFault is wrapped by errors from an instance that trapped, ran past its
// deadline, exceeded a limit or exited. The instance is unusable afterwards:
// the caller drops its connections and asks the Dissector for a new one.
var ErrFault = errors.New("dissector instance fault")

// ErrQuarantined is returned by NewInstance once a dissector has faulted too
// often to be trusted with more traffic.
var ErrQuarantined = errors.New("dissector quarantined")

// Sink receives what an instance's connections produce. It is called on the
// goroutine that called the instance.
type Sink interface {
	Record(conn uint64, r *sdk.Record)
	Switch(conn uint64, hint string)
}

// EncodedFieldsSink is a Sink that takes records whose messages may still
// hold their fields as the guest encoded them (sdk.Message.EncodedFields,
// sdk.DecodeRecordLazy), because what it hands them to keeps the text as
// it is (a store) or decodes only what it reads. An instance gives every
// other Sink, and this one when TakesEncodedFields is false, decoded
// Fields maps.
type EncodedFieldsSink interface {
	Sink
	TakesEncodedFields() bool
}

// TakesEncodedFields reports whether sink accepts records with encoded
// fields (EncodedFieldsSink).
func TakesEncodedFields(sink Sink) bool {
	s, ok := sink.(EncodedFieldsSink)
	return ok && s.TakesEncodedFields()
}

// Dissector is one loaded dissector, able to make instances.
type Dissector interface {
	Manifest() sdk.Manifest
	// Source is "built-in" or the path the dissector was loaded from.
	Source() string
	// NewInstance makes an instance whose output goes to sink. Instances are
	// never called concurrently; the pipeline makes one per worker.
	NewInstance(ctx context.Context, sink Sink) (Instance, error)
	// Health reports faults and whether the dissector is quarantined.
	Health() Health
}

// Health is a dissector's fault record.
type Health struct {
	Faults      int    `json:"faults"`
	LastFault   string `json:"last_fault,omitempty"`
	Quarantined bool   `json:"quarantined"`
	Restarts    int    `json:"restarts"`
}

// Instance is one dissector instance with its own connection state.
type Instance interface {
	Probe(ctx context.Context, dir sdk.Direction, data []byte) (sdk.Probe, error)
	Open(ctx context.Context, info sdk.ConnInfo) error
	Feed(ctx context.Context, conn uint64, dir sdk.Direction, data []byte, first, last int64) (consumed, need int, err error)
	Gap(ctx context.Context, conn uint64, dir sdk.Direction, n int, ts int64) error
	Close(ctx context.Context, conn uint64, ts int64) error
	// Destroy releases the instance.
	Destroy(ctx context.Context)
}

// ProbeBounder is an Instance that can say, without running its dissector,
// the highest confidence its Probe could answer on data: a built-in whose
// probe is also compiled into the host (a prefilter). Detection does not
// ask an instance whose bound cannot beat the claim it already has, so
// that a module is not compiled and started to give an answer that would
// change nothing. An Instance that is not a ProbeBounder may answer
// anything up to 100.
type ProbeBounder interface {
	ProbeBound(dir sdk.Direction, data []byte) uint8
}
