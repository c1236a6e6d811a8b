package packetlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
)

// Tee returns a Source that reads src and writes each packet to w as it
// passes, so an import or capture is logged without the pipeline knowing.
// A failure to write the log is returned from Next, ending the read: a log
// that silently misses packets would export incomplete captures as if they
// were whole. Errors from src pass through unchanged. Close flushes w and
// closes src but leaves w open, since several sources may share it.
func Tee(src capture.Source, w *Writer) capture.Source {
	return &teeSource{src: src, w: w}
}

type teeSource struct {
	src capture.Source
	w   *Writer
}

func (t *teeSource) Next(ctx context.Context) (capture.Packet, error) {
	p, err := t.src.Next(ctx)
	if errors.Is(err, capture.ErrIdle) {
		// A live source is idle: make what it captured so far readable
		// by snapshots and other processes.
		if ferr := t.w.Push(); ferr != nil && !errors.Is(ferr, ErrClosed) {
			return capture.Packet{}, ferr
		}
		return p, err
	}
	if err != nil {
		return p, err
	}
	if err := t.w.Write(p); err != nil {
		return capture.Packet{}, fmt.Errorf("packetlog: logging packet at byte %d: %w", p.Offset, err)
	}
	return p, nil
}

func (t *teeSource) Close() error {
	ferr := t.w.Flush()
	if errors.Is(ferr, ErrClosed) {
		ferr = nil
	}
	return errors.Join(ferr, t.src.Close())
}
