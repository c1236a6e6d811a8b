package tls

import (
	"context"

	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
)

// Plaintext turns a Tracer's events into the pipeline's plaintext chunks,
// for Pipeline.RunPlaintext. The returned channel is closed when events is
// closed (Tracer.Close) or ctx is done.
func Plaintext(ctx context.Context, events <-chan Event) <-chan pipeline.Plaintext {
	out := make(chan pipeline.Plaintext, 256)
	go func() {
		defer close(out)
		for e := range events {
			select {
			case out <- ToPlaintext(e):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// ToPlaintext is one Event as a pipeline chunk: the process is the chunk's
// owner, so that when both ends of a connection are traced it is recorded
// once.
func ToPlaintext(e Event) pipeline.Plaintext {
	return pipeline.Plaintext{
		Time:   e.Time,
		Local:  e.Local,
		Remote: e.Remote,
		Sent:   e.Direction == Sent,
		Data:   e.Data,
		Gap:    e.Truncated,
		Closed: e.Kind == Closed,
		Owner:  e.PID,
	}
}
