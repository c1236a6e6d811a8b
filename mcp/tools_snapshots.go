package mcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/pktfilter"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

// errNoSnapshots answers snapshot tools on a server without a snapshot
// manager.
var errNoSnapshots = errors.New("snapshots are not available on this server: it was started without a data directory (kubeshark mcp and kubeshark hub have them); query the live data without snapshot")

// errClusterSnapshots answers create_snapshot on a hub that reads other
// nodes' stores: a snapshot holds packets, which stay on each node.
var errClusterSnapshots = errors.New("snapshots are made on each node: this hub reads the workers' stores over the network and holds no packets; create the snapshot on a worker's hub")

// noSnapshots is the refusal of a snapshot tool on a server without
// snapshots, saying why.
func (s *Server) noSnapshots() error {
	if s.opts.Reader != nil {
		return errClusterSnapshots
	}
	return errNoSnapshots
}

// storeFor returns the live store, or a snapshot's when id is set: the
// records of its newest completed dissection, else those it was made with.
func (s *Server) storeFor(ctx context.Context, id string) (Reader, error) {
	if id == "" {
		return s.live(ctx), nil
	}
	if s.opts.Snapshots == nil {
		return nil, s.noSnapshots()
	}
	if st, _, ok, err := s.opts.Snapshots.DissectedStore(ctx, id); err != nil || ok {
		return st, notFound(err, "snapshot", id, snapshotHint)
	}
	st, err := s.opts.Snapshots.Store(ctx, id)
	return st, notFound(err, "snapshot", id, snapshotHint)
}

// SnapshotsResult is list_snapshots' answer.
type SnapshotsResult struct {
	Snapshots []snapshot.Info `json:"snapshots"`
}

type snapshotIDArgs struct {
	ID string `json:"id" jsonschema:"snapshot id (snap-...); snapshot_id is accepted"`
}

type createSnapshotArgs struct {
	Name  string `json:"name,omitempty" jsonschema:"a name to find it by, e.g. payments outage 14:00"`
	Start string `json:"start,omitempty" jsonschema:"window start (RFC 3339, -15m, 14:05); default the oldest data"`
	End   string `json:"end,omitempty" jsonschema:"window end; default the newest data"`
}

type exportArgs struct {
	ID  string `json:"id" jsonschema:"snapshot id"`
	BPF string `json:"bpf,omitempty" jsonschema:"tcpdump-style packet filter, e.g. host 10.0.0.5 and tcp port 8080"`
	KFL string `json:"kfl,omitempty" jsonschema:"keep the connections that carried a call matching this KFL filter, e.g. status_code == 503"`
}

// ExportResult is export_snapshot_pcap's answer.
type ExportResult struct {
	// Path is the pcapng file on the server's disk, absolute.
	Path string `json:"path" jsonschema:"absolute path of the pcapng file on the server's disk"`
	// URL downloads the same file from the hub, when the server is one.
	URL     string `json:"url,omitempty"`
	Bytes   int64  `json:"bytes"`
	Packets int    `json:"packets"`
}

func (s *Server) snapshotTools() []tool {
	return []tool{
		newTool(toolSpec{name: "list_snapshots", title: "List snapshots",
			desc: "Snapshots: named, immutable windows of records, flows and raw packets, newest first. Query one with the snapshot argument of list_api_calls, get_api_stats and the other call tools. Next: get_snapshot, or the snapshot argument (snapshot_id is accepted) of list_api_calls."},
			s.listSnapshots),
		newTool(toolSpec{name: "create_snapshot", title: "Create a snapshot", writes: true,
			desc: "Freeze a time window (records, flows and raw packets) under a name so it survives retention and can be exported as pcapng. Returns its id. Use it to keep an incident's data before retention drops it. Additive: it writes a new snapshot beside the store and changes nothing already stored, so it works on a read-only server (no --allow-destructive needed). Next: get_snapshot, export_snapshot_pcap, or start_snapshot_dissection."},
			s.createSnapshot),
		newTool(toolSpec{name: "get_snapshot", title: "Get a snapshot",
			desc: "One snapshot: its window, counts of records, flows and packets, records per protocol. Next: list_api_calls with snapshot=ID, or export_snapshot_pcap."},
			s.getSnapshot),
		newTool(toolSpec{name: "export_snapshot_pcap", title: "Export a snapshot as pcapng", writes: true,
			desc: "Write a snapshot's packets to a pcapng file (for Wireshark), optionally narrowed by a tcpdump-style filter (bpf) and/or to the connections that carried calls matching a KFL filter. Returns the file's absolute path on the server, on a hub a download URL (GET with the hub's bearer token), and the size. Additive: it only writes a new file under the server's export directory, so it works on a read-only server. Use it when a human needs the packets (Wireshark) or as evidence. Next: share the path or URL."},
			s.exportSnapshot),
	}
}

func (s *Server) listSnapshots(ctx context.Context, _ noArgs) (SnapshotsResult, string, error) {
	if s.opts.Snapshots == nil {
		return SnapshotsResult{}, "", s.noSnapshots()
	}
	list, err := s.opts.Snapshots.List(ctx)
	if err != nil {
		return SnapshotsResult{}, "", err
	}
	text := fmt.Sprintf("%d snapshots", len(list))
	if len(list) > 0 {
		text += "; newest: " + snapshotLine(list[0])
	}
	return SnapshotsResult{Snapshots: list}, text, nil
}

func snapshotLine(i snapshot.Info) string {
	return fmt.Sprintf("%s %q %s – %s: %d records, %d flows, %d packets", i.ID, i.Name, i.Start.Format(time.RFC3339), i.End.Format(time.RFC3339), i.Records, i.Flows, i.Packets)
}

func (s *Server) createSnapshot(ctx context.Context, a createSnapshotArgs) (snapshot.Info, string, error) {
	if s.opts.Snapshots == nil {
		return snapshot.Info{}, "", s.noSnapshots()
	}
	w, err := s.window(ctx, a.Start, a.End)
	if err != nil {
		return snapshot.Info{}, "", err
	}
	st, ok := s.live(ctx).(*storage.Store)
	if !ok {
		return snapshot.Info{}, "", errClusterSnapshots
	}
	info, err := s.opts.Snapshots.Create(ctx, st, a.Name, w.Start, w.End)
	if err != nil {
		if errors.Is(err, snapshot.ErrEmptyWindow) {
			return info, "", fmt.Errorf("%w: %w (get_data_boundaries shows what is held)", ErrBadArgument, err)
		}
		return info, "", err
	}
	return info, "created " + snapshotLine(info), nil
}

func (s *Server) getSnapshot(ctx context.Context, a snapshotIDArgs) (snapshot.Info, string, error) {
	if s.opts.Snapshots == nil {
		return snapshot.Info{}, "", s.noSnapshots()
	}
	info, err := s.opts.Snapshots.Get(ctx, a.ID)
	if err != nil {
		return info, "", notFound(err, "snapshot", a.ID, snapshotHint)
	}
	return info, snapshotLine(info), nil
}

// ExportFilter compiles the export filters of a tool call or a hub request.
func (s *Server) ExportFilter(bpf, expr string) (snapshot.ExportFilter, error) {
	var f snapshot.ExportFilter
	if strings.TrimSpace(bpf) != "" {
		p, err := pktfilter.Compile(bpf)
		if err != nil {
			return f, fmt.Errorf("%w: bpf: %w; write it as tcpdump does, e.g. host 10.0.0.5 and tcp port 8080", ErrBadArgument, err)
		}
		f.BPF = p
	}
	m, err := s.kflMatcher(context.Background(), expr, nil)
	if err != nil {
		return f, err
	}
	f.Match = m
	return f, nil
}

func (s *Server) exportSnapshot(ctx context.Context, a exportArgs) (ExportResult, string, error) {
	var res ExportResult
	if s.opts.Snapshots == nil {
		return res, "", s.noSnapshots()
	}
	if _, err := s.opts.Snapshots.Get(ctx, a.ID); err != nil {
		return res, "", notFound(err, "snapshot", a.ID, snapshotHint)
	}
	f, err := s.ExportFilter(a.BPF, a.KFL)
	if err != nil {
		return res, "", err
	}
	dir := filepath.Join(s.opts.ExportDir, a.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, "", err
	}
	name := "all.pcapng"
	if a.BPF != "" || a.KFL != "" {
		name = fmt.Sprintf("filtered-%d.pcapng", time.Now().UnixNano())
	}
	path := filepath.Join(dir, name)
	out, err := os.Create(path)
	if err != nil {
		return res, "", err
	}
	n, err := s.opts.Snapshots.Export(ctx, a.ID, out, f)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return res, "", err
	}
	st, err := os.Stat(path)
	if err != nil {
		return res, "", err
	}
	res = ExportResult{Path: path, Bytes: st.Size(), Packets: n}
	if s.opts.PublicURL != "" {
		q := url.Values{}
		if a.BPF != "" {
			q.Set("bpf", a.BPF)
		}
		if a.KFL != "" {
			q.Set("kfl", a.KFL)
		}
		res.URL = strings.TrimRight(s.opts.PublicURL, "/") + "/api/snapshots/" + a.ID + "/pcap"
		if len(q) > 0 {
			res.URL += "?" + q.Encode()
		}
	}
	text := fmt.Sprintf("wrote %d packets (%d bytes) to %s", n, res.Bytes, path)
	if res.URL != "" {
		text += "; download: " + res.URL + " (with the hub's bearer token)"
	}
	return res, text, nil
}

// WriteSnapshotPcap streams a snapshot's packets, narrowed like
// export_snapshot_pcap, as pcapng to w (the hub's download route).
func (s *Server) WriteSnapshotPcap(ctx context.Context, w io.Writer, id, bpf, expr string) (int, error) {
	if s.opts.Snapshots == nil {
		return 0, s.noSnapshots()
	}
	if _, err := s.opts.Snapshots.Get(ctx, id); err != nil {
		return 0, notFound(err, "snapshot", id, snapshotHint)
	}
	f, err := s.ExportFilter(bpf, expr)
	if err != nil {
		return 0, err
	}
	return s.opts.Snapshots.Export(ctx, id, w, f)
}
