package mcp_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/dissectors/http1"
	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// fixture is a store filled from a capture of real net/http traffic
// (synth.HTTPSample: a real server and clients on loopback, recorded
// through a relay), dissected by the HTTP dissector compiled natively: the
// same code as its wasm build, which the CLI tests exercise.
type fixture struct {
	store *storage.Store
	stats synth.Stats
	dir   string
}

var (
	sampleOnce sync.Once
	samplePcap []byte
	sampleStat synth.Stats
	sampleErr  error
)

func samplePCAP(t testing.TB) ([]byte, synth.Stats) {
	sampleOnce.Do(func() {
		var buf bytes.Buffer
		sampleStat, sampleErr = synth.HTTPSample(context.Background(), &buf, 80)
		samplePcap = buf.Bytes()
	})
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	return samplePcap, sampleStat
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	pcap, st := samplePCAP(t)
	dir := t.TempDir()
	store, err := storage.Open(context.Background(), storage.Options{Dir: filepath.Join(dir, "store"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	importPCAP(t, store, pcap)
	return &fixture{store: store, stats: st, dir: dir}
}

func importPCAP(t testing.TB, store *storage.Store, pcap []byte) {
	t.Helper()
	src, err := capture.NewSource("sample.pcap", bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(pipeline.Config{NewID: storage.NewID}, []engine.Dissector{dissectortest.Builtin(t, "http1")}, store)
	if _, err := p.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
}

func dissectorList() []mcp.Dissector {
	return []mcp.Dissector{{Manifest: http1.Manifest(), Source: "native", ABIVersion: sdk.ABIVersion}}
}

func (f *fixture) server(t testing.TB, allowDestructive bool) *mcp.Server {
	t.Helper()
	s, err := mcp.New(mcp.Options{Store: f.store, Dissectors: dissectorList(), AllowDestructive: allowDestructive, Version: "test",
		Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
