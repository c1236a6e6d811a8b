package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
)

// idleSource plays a capture, then answers capture.ErrIdle (as a live
// source with nothing to read does) until stop is closed.
type idleSource struct {
	capture.Source
	stop  chan struct{}
	idles int
}

func (s *idleSource) Next(ctx context.Context) (capture.Packet, error) {
	p, err := s.Source.Next(ctx)
	if err != io.EOF {
		return p, err
	}
	select {
	case <-s.stop:
		return capture.Packet{}, io.EOF
	case <-time.After(10 * time.Millisecond):
		s.idles++
		return capture.Packet{Timestamp: time.Date(2024, 5, 1, 14, 0, 5, 0, time.UTC)}, capture.ErrIdle
	}
}

// TestIdleStoresWhileCaptureGoesOn: records reach the sink on a live
// source's idle moments, without waiting for the batch to fill or the
// source to end, and are not stored twice at the end.
func TestIdleStoresWhileCaptureGoesOn(t *testing.T) {
	pcap := writeConv(t, []string{
		"GET /live HTTP/1.1\r\nHost: x\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
	}, true)
	file, err := capture.NewSource("live.pcap", bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	src := &idleSource{Source: file, stop: make(chan struct{})}
	sink := &memSink{}
	done := make(chan error, 1)
	go func() {
		_, err := pipeline.New(pipeline.Config{Workers: 2}, []engine.Dissector{dissectortest.Builtin(t, "http1")}, sink).Run(context.Background(), src)
		done <- err
	}()
	stored := func() int {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.recs)
	}
	deadline := time.Now().Add(5 * time.Second)
	for stored() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n := stored()
	close(src.stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("records stored while the source was still open: %d, want 1", n)
	}
	if len(sink.recs) != 1 || sink.recs[0].Path != "/live" || sink.recs[0].Status != 204 {
		t.Fatalf("records at the end: %v", summary(sink.recs))
	}
}
