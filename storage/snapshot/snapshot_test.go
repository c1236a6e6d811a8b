package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/kubeshark-wasm/kubeshark/dissectors/dissectortest"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/decode"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/pktfilter"
	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/kfl"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

var start = time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)

// setup imports the cascade capture (real net/http services) into a live
// store and packet log, as `kubeshark import` does.
func setup(t *testing.T) (*snapshot.Manager, *storage.Store, synth.CascadeStats) {
	t.Helper()
	ctx := context.Background()
	var buf bytes.Buffer
	st, err := synth.Cascade(ctx, &buf, synth.CascadeOptions{Start: start})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	store, err := storage.Open(ctx, storage.Options{Dir: filepath.Join(dir, "store"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	plog, err := packetlog.Open(ctx, filepath.Join(dir, "packets"), packetlog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plog.Close() })
	src, err := capture.NewSource("cascade.pcap", bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(pipeline.Config{NewID: storage.NewID}, []engine.Dissector{dissectortest.Builtin(t, "http1")}, store)
	if _, err := p.Run(ctx, packetlog.Tee(src, plog)); err != nil {
		t.Fatal(err)
	}
	m, err := snapshot.Open(ctx, snapshot.Options{Dir: filepath.Join(dir, "snapshots"), Packets: plog.Reader(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, store, st
}

// endpoints reads an exported pcapng and returns the distinct
// "ip:port-ip:port" pairs (sorted ends) in it and the packet count.
func endpoints(t *testing.T, b []byte) (map[string]int, int) {
	t.Helper()
	r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	dec := decode.New(decode.Options{})
	var seg packet.Segment
	out := map[string]int{}
	n := 0
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		ok, _ := dec.Decode(capture.Packet{Timestamp: ci.Timestamp, Data: data, LinkType: r.LinkType(), CaptureLength: len(data), Length: ci.Length}, &seg)
		if !ok {
			continue
		}
		a, z := seg.Src.String(), seg.Dst.String()
		if a > z {
			a, z = z, a
		}
		out[a+"-"+z]++
	}
	return out, n
}

func TestSnapshotFreezesAWindowAndExportsItsPackets(t *testing.T) {
	ctx := context.Background()
	m, store, cs := setup(t)

	// The incident half.
	info, err := m.Create(ctx, store, "payments outage", cs.FailureOnset, cs.End.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want, err := store.Query(ctx, storage.Query{Since: cs.FailureOnset, Until: cs.End.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if info.Records != len(want.Records) || info.Records == 0 {
		t.Fatalf("snapshot has %d records, the window %d", info.Records, len(want.Records))
	}
	if info.Flows != 3 || info.Packets == 0 {
		t.Fatalf("snapshot flows=%d packets=%d; want the 3 connections and their packets", info.Flows, info.Packets)
	}

	// Its records stay queryable, with their ids and flows, after the live
	// store loses them.
	snapStore, err := m.Store(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := snapStore.Get(ctx, want.Records[0].ID)
	if err != nil || got.Stream == "" {
		t.Fatalf("record %s in the snapshot: %v", want.Records[0].ID, err)
	}
	if _, err := snapStore.Flow(ctx, got.Stream); err != nil {
		t.Fatalf("flow %s in the snapshot: %v", got.Stream, err)
	}

	list, err := m.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "payments outage" {
		t.Fatalf("List = %+v, %v", list, err)
	}

	// All packets of the window.
	var all bytes.Buffer
	n, err := m.Export(ctx, info.ID, &all, snapshot.ExportFilter{})
	if err != nil || int64(n) != info.Packets {
		t.Fatalf("export wrote %d packets (%v), the snapshot holds %d", n, err, info.Packets)
	}
	pairs, _ := endpoints(t, all.Bytes())
	if len(pairs) != 3 {
		t.Fatalf("full export has connections %v, want 3", pairs)
	}

	// KFL: only the connection that carried the 503s (orders → payments).
	env, err := kfl.NewEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	var only503 bytes.Buffer
	n503, err := m.Export(ctx, info.ID, &only503, snapshot.ExportFilter{Match: env.MustCompile("status_code == 503")})
	if err != nil {
		t.Fatal(err)
	}
	pairs, count := endpoints(t, only503.Bytes())
	if count != n503 || len(pairs) != 1 {
		t.Fatalf("503 export: %d packets over %v; want one connection", count, pairs)
	}
	for k := range pairs {
		if !strings.Contains(k, "10.0.0.20:") || !strings.Contains(k, "10.0.0.30:8080") {
			t.Fatalf("503 export holds %s, want orders → payments", k)
		}
	}

	// BPF: the client's connection to the frontend.
	var bpf bytes.Buffer
	if _, err := m.Export(ctx, info.ID, &bpf, snapshot.ExportFilter{BPF: pktfilter.MustCompile("host 10.0.0.5 and tcp port 8080")}); err != nil {
		t.Fatal(err)
	}
	pairs, _ = endpoints(t, bpf.Bytes())
	if len(pairs) != 1 {
		t.Fatalf("bpf export holds %v", pairs)
	}
	for k := range pairs {
		if !strings.Contains(k, "10.0.0.5:") {
			t.Fatalf("bpf export holds %s", k)
		}
	}

	if err := m.Delete(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, info.ID); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
}

func TestSnapshotBadInput(t *testing.T) {
	ctx := context.Background()
	m, store, cs := setup(t)
	if _, err := m.Create(ctx, store, "", cs.End.Add(time.Hour), cs.End.Add(2*time.Hour)); !errors.Is(err, snapshot.ErrEmptyWindow) {
		t.Fatalf("window after the data: %v", err)
	}
	if _, err := m.Create(ctx, store, "", cs.End, cs.Start); !errors.Is(err, snapshot.ErrEmptyWindow) {
		t.Fatalf("reversed window: %v", err)
	}
	for _, id := range []string{"../../etc", "snap-0000000000000000", ""} {
		if _, err := m.Get(ctx, id); !errors.Is(err, snapshot.ErrNotFound) {
			t.Fatalf("Get(%q): %v", id, err)
		}
		if _, err := m.Export(ctx, id, io.Discard, snapshot.ExportFilter{}); !errors.Is(err, snapshot.ErrNotFound) {
			t.Fatalf("Export(%q): %v", id, err)
		}
	}
	// A whole-data snapshot (no window given) holds everything.
	info, err := m.Create(ctx, store, "", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	total := cs.Frontend.Requests + cs.Orders.Requests + cs.Payments.Requests
	if info.Records != total {
		t.Fatalf("whole snapshot: %d records, the capture has %d", info.Records, total)
	}
}

// TestSnapshotOfADuplicatedLogHoldsEachPacketOnce: a packet log written
// before the log recognised packets it held can hold a capture several
// times (issue 15: four imports, four copies). A snapshot of it, and so
// its export, holds each packet once.
func TestSnapshotOfADuplicatedLogHoldsEachPacketOnce(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	if _, err := synth.Cascade(ctx, &buf, synth.CascadeOptions{Start: start, Checkouts: 10}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logDir := filepath.Join(dir, "packets")
	// Two writers on two directories know nothing of each other; their
	// chunks, put side by side, are the log an old kubeshark left.
	n := 0
	for i, d := range []string{logDir, filepath.Join(dir, "copy")} {
		w, err := packetlog.Open(ctx, d, packetlog.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		src, err := capture.NewSource("cascade.pcap", bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for n = 0; ; n++ {
			p, err := src.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			chunks, _ := filepath.Glob(filepath.Join(d, "chunk_*.pcapng"))
			for _, c := range chunks {
				// chunk_0000000000_… becomes chunk_0000000001_…
				name := strings.Replace(filepath.Base(c), "chunk_0000000000_", "chunk_0000000001_", 1)
				if err := os.Rename(c, filepath.Join(logDir, name)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	r := packetlog.NewReader(logDir, packetlog.Options{})
	if b, err := r.Boundaries(ctx); err != nil || b.Packets != int64(2*n) {
		t.Fatalf("the merged log holds %d packets (%v), want two copies of %d", b.Packets, err, n)
	}
	store, err := storage.Open(ctx, storage.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Put(ctx, []*sdk.Record{{Protocol: "http", Timestamp: start.Add(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	m, err := snapshot.Open(ctx, snapshot.Options{Dir: filepath.Join(dir, "snapshots"), Packets: r, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	info, err := m.Create(ctx, store, "", start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	got, err := m.Export(ctx, info.ID, &out, snapshot.ExportFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Packets != int64(n) || got != n {
		t.Fatalf("snapshot holds %d packets and exports %d, want %d", info.Packets, got, n)
	}
}
