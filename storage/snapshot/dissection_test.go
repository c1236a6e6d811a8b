package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/kfl"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

// dissectHTTP is the import pipeline with the built-in HTTP dissector.
func dissectHTTP(t testing.TB) func(ctx context.Context, src capture.Source, dst *storage.Store) error {
	d := dissectortest.Builtin(t, "http1")
	return func(ctx context.Context, src capture.Source, dst *storage.Store) error {
		p := pipeline.New(pipeline.Config{NewID: storage.NewID}, []engine.Dissector{d}, dst)
		_, err := p.Run(ctx, src)
		return err
	}
}

// TestDissectionOfASnapshotCapturedWithoutDissection imports the cascade
// with dissection off (packets and flows kept, no records), snapshots it,
// and dissects the snapshot's packets again in the background: the result
// holds what an import with the dissector holds.
func TestDissectionOfASnapshotCapturedWithoutDissection(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	cs, err := synth.Cascade(ctx, &buf, synth.CascadeOptions{Start: start})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	live, err := storage.Open(ctx, storage.Options{Dir: filepath.Join(dir, "store"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	plog, err := packetlog.Open(ctx, filepath.Join(dir, "packets"), packetlog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer plog.Close()
	src, err := capture.NewSource("cascade.pcap", bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.New(pipeline.Config{NewID: storage.NewID}, nil, live).Run(ctx, packetlog.Tee(src, plog)); err != nil {
		t.Fatal(err)
	}
	m, err := snapshot.Open(ctx, snapshot.Options{Dir: filepath.Join(dir, "snapshots"), Packets: plog.Reader(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	info, err := m.Create(ctx, live, "undissected", start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if info.Records != 0 || info.Packets == 0 {
		t.Fatalf("snapshot of undissected traffic: %+v", info)
	}
	if _, ok, err := m.LatestDissection(ctx, info.ID); ok || err != nil {
		t.Fatalf("a new snapshot has a dissection: %v %v", ok, err)
	}

	d, err := m.StartDissection(ctx, info.ID, []string{"http"}, dissectHTTP(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != snapshot.DissectionRunning || d.SnapshotID != info.ID || d.TotalPackets != info.Packets {
		t.Fatalf("started: %+v", d)
	}
	m.WaitDissections()
	got, ok, err := m.LatestDissection(ctx, info.ID)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if got.Status != snapshot.DissectionCompleted || got.Progress != 100 || got.Packets != info.Packets || got.Finished == nil {
		t.Fatalf("finished: %+v", got)
	}

	// What a plain import with the dissector stores, for comparison.
	ref, err := storage.Open(ctx, storage.Options{Dir: filepath.Join(dir, "ref"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	src, _ = capture.NewSource("cascade.pcap", bytes.NewReader(buf.Bytes()))
	if err := dissectHTTP(t)(ctx, src, ref); err != nil {
		t.Fatal(err)
	}
	want, err := ref.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Records != want.Total || got.ByProtocol["http"] != want.ByProtocol["http"] || got.Flows != 3 {
		t.Fatalf("dissection stored %d records (%v), %d flows; an import stores %d (%v) and 3 flows", got.Records, got.ByProtocol, got.Flows, want.Total, want.ByProtocol)
	}
	st, which, ok, err := m.DissectedStore(ctx, info.ID)
	if err != nil || !ok || which.ID != got.ID {
		t.Fatalf("dissected store: %v %v %+v", ok, err, which)
	}
	env, err := kfl.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	page, err := st.Query(ctx, storage.Query{Match: env.MustCompile("status_code == 503"), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != cs.Payments.Statuses[503] {
		t.Fatalf("the dissection has %d 503s, payments sent %d", len(page.Records), cs.Payments.Statuses[503])
	}

	// A run that fails is recorded with its error; the completed one is
	// still what queries read.
	if _, err := m.StartDissection(ctx, info.ID, nil, func(context.Context, capture.Source, *storage.Store) error {
		return errors.New("no dissector loaded")
	}); err != nil {
		t.Fatal(err)
	}
	m.WaitDissections()
	list, err := m.Dissections(ctx, info.ID)
	if err != nil || len(list) != 2 || list[0].Status != snapshot.DissectionFailed || list[0].Error != "no dissector loaded" {
		t.Fatalf("after a failed run: %v %+v", err, list)
	}
	if _, which, _, _ := m.DissectedStore(ctx, info.ID); which.ID != got.ID {
		t.Fatalf("queries read %s, not the completed dissection %s", which.ID, got.ID)
	}
	if all, err := m.Dissections(ctx, ""); err != nil || len(all) != 2 {
		t.Fatalf("every snapshot's dissections: %v %d", err, len(all))
	}

	// A snapshot without packets cannot be dissected; an unknown one is
	// not found.
	bare, err := snapshot.Open(ctx, snapshot.Options{Dir: filepath.Join(dir, "bare"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	if err := dissectHTTP(t)(ctx, mustSource(t, buf.Bytes()), live); err != nil {
		t.Fatal(err)
	}
	nopk, err := bare.Create(ctx, live, "no packets", start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.StartDissection(ctx, nopk.ID, nil, dissectHTTP(t)); !errors.Is(err, snapshot.ErrNoPackets) {
		t.Fatalf("dissecting a snapshot without packets: %v", err)
	}
	if _, err := m.StartDissection(ctx, "snap-0000000000000000", nil, dissectHTTP(t)); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("unknown snapshot: %v", err)
	}
}

func mustSource(t *testing.T, b []byte) capture.Source {
	t.Helper()
	src, err := capture.NewSource("cascade.pcap", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return src
}
