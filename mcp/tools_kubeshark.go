package mcp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/fanout"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

// The tools in this file are those Kubeshark's published agent skills
// (skills/network-rca, skills/security-audit) call that the rest of the
// server did not have: a status check, the dissected-data boundaries,
// snapshot dissection, and the cloud snapshot storage, which this build
// lists as not available.

// errNoCloud answers the cloud snapshot storage tools.
var errNoCloud = errors.New("not available: this kubeshark keeps snapshots on local disk only and has no cloud storage (S3, GCS, Azure Blob) yet; export_snapshot_pcap writes a snapshot's packets to a file you can copy anywhere")

// StatusResult is check_kubeshark_status' answer.
type StatusResult struct {
	Running bool   `json:"running"`
	Version string `json:"version"`
	// Records, Flows and Packets count what the store holds.
	Records int   `json:"records"`
	Flows   int   `json:"flows"`
	Packets int64 `json:"packets"`
	// DissectionEnabled is false when all dissection is turned off for
	// the following imports.
	DissectionEnabled bool     `json:"dissection_enabled"`
	Dissectors        []string `json:"dissectors" jsonschema:"the dissectors enabled for the next import or snapshot dissection"`
	// Snapshots and SnapshotDissection say whether those tools work here.
	Snapshots          bool     `json:"snapshots"`
	SnapshotDissection bool     `json:"snapshot_dissection"`
	CloudStorage       bool     `json:"cloud_storage"`
	Destructive        bool     `json:"destructive_tools" jsonschema:"enable_dissection and disable_dissection work (the server was started with --allow-destructive)"`
	Tools              []string `json:"tools"`
	Notes              []string `json:"notes,omitempty"`
}

// L7Bounds is a time range of dissected records.
type L7Bounds struct {
	// OldestTS and NewestTS are Unix milliseconds, as Kubeshark gives
	// them; Oldest and Newest the same in RFC 3339.
	OldestTS int64      `json:"oldest_ts"`
	NewestTS int64      `json:"newest_ts"`
	Oldest   *time.Time `json:"oldest,omitempty"`
	Newest   *time.Time `json:"newest,omitempty"`
	Records  int        `json:"records"`
}

// L7NodeBounds is one node's dissected range.
type L7NodeBounds struct {
	Node string `json:"node"`
	L7Bounds
}

// L7BoundariesResult is get_l7_data_boundaries' answer.
type L7BoundariesResult struct {
	DissectionEnabled bool           `json:"dissection_enabled"`
	Cluster           L7Bounds       `json:"cluster"`
	Nodes             []L7NodeBounds `json:"nodes"`
	ByProtocol        map[string]int `json:"by_protocol"`
	Note              string         `json:"note,omitempty"`
}

type snapshotDissectionArgs struct {
	ID string `json:"id" jsonschema:"snapshot id (snap-...); snapshot_id is accepted"`
}

type listDissectionsArgs struct {
	ID string `json:"id,omitempty" jsonschema:"only this snapshot's dissections (snapshot_id is accepted); default every snapshot's"`
}

// DissectionStatusResult is get_snapshot_dissection_status' answer.
type DissectionStatusResult struct {
	SnapshotID string `json:"snapshot_id"`
	// Status is not_started, running, completed or failed.
	Status   string  `json:"status"`
	Progress float64 `json:"progress" jsonschema:"share of the snapshot's packets dissected, 0 to 100"`
	// Dissection is the newest run, if any.
	Dissection *snapshot.Dissection `json:"dissection,omitempty"`
	// Queried says which records snapshot queries read: the newest
	// completed dissection's, or the snapshot's own.
	Queried string `json:"queried"`
}

// DissectionsResult is list_snapshot_dissections' answer.
type DissectionsResult struct {
	Dissections []snapshot.Dissection `json:"dissections"`
}

// CloudStatusResult is get_cloud_storage_status' answer.
type CloudStatusResult struct {
	Available bool   `json:"available"`
	Reason    string `json:"reason"`
}

type cloudArgs struct {
	ID string `json:"id,omitempty"`
}

func (s *Server) kubesharkTools() []tool {
	return []tool{
		newTool(toolSpec{name: "check_kubeshark_status", title: "Check kubeshark status",
			desc: "Whether kubeshark is serving and what it holds: version, counts of records, flows and raw packets, whether dissection is on and which dissectors run, and which tool families work here (snapshots, snapshot dissection, cloud storage, destructive tools). Use it first in a session, or when tools seem to be missing. Next: get_data_boundaries and get_l7_data_boundaries."},
			s.checkStatus),
		newTool(toolSpec{name: "get_l7_data_boundaries", title: "Dissected (L7) data boundaries",
			desc: "The time range of dissected API calls (the window KFL queries can answer), with dissection_enabled, per node and for the whole capture (oldest_ts/newest_ts in Unix ms, and RFC 3339). get_data_boundaries gives the raw packet (L4) window, which can be wider. Next: list_api_calls or get_api_stats within this window; if dissection_enabled is false, enable_dissection, or start_snapshot_dissection for past packets."},
			s.l7Boundaries),
		newTool(toolSpec{name: "start_snapshot_dissection", title: "Start snapshot dissection", writes: true,
			desc: "Dissect a snapshot's raw packets again with today's dissectors (after installing or enabling one, or for a snapshot taken while dissection was off), as a background job; queries with snapshot_id then read its records. Returns at once with the job; a job already running for the snapshot is returned instead of a second one. Next: get_snapshot_dissection_status until status is completed (progress 100), then list_api_calls or get_api_stats with snapshot_id."},
			s.startSnapshotDissection),
		newTool(toolSpec{name: "get_snapshot_dissection_status", title: "Snapshot dissection status",
			desc: "The newest dissection of a snapshot: not_started, running (with progress 0–100), completed (records, flows, by protocol) or failed (with the error), and which records snapshot queries read. Next: start_snapshot_dissection if not_started or failed; list_api_calls with snapshot_id once completed."},
			s.snapshotDissectionStatus),
		newTool(toolSpec{name: "list_snapshot_dissections", title: "List snapshot dissections",
			desc: "Every dissection run of one snapshot (id) or of all snapshots, newest first, with status, progress and what each stored. Next: get_snapshot_dissection_status for one snapshot."},
			s.listSnapshotDissections),
		newTool(toolSpec{name: "get_cloud_storage_status", title: "Cloud storage status",
			desc: "Whether snapshots can be uploaded to or downloaded from cloud storage: NOT AVAILABLE in this build (snapshots stay on local disk). Next: export_snapshot_pcap to take a snapshot's packets elsewhere."},
			s.cloudStatus),
		newTool(toolSpec{name: "upload_snapshot_to_cloud", title: "Upload a snapshot to cloud storage (not available)", writes: true, unavailable: errNoCloud,
			desc: "NOT AVAILABLE in this build: cloud snapshot storage is not implemented; the call answers with an error saying so. Next: export_snapshot_pcap to write the snapshot's packets to a file."},
			func(context.Context, cloudArgs) (CloudStatusResult, string, error) {
				return CloudStatusResult{}, "", errNoCloud
			}),
		newTool(toolSpec{name: "download_snapshot_from_cloud", title: "Download a snapshot from cloud storage (not available)", writes: true, unavailable: errNoCloud,
			desc: "NOT AVAILABLE in this build: cloud snapshot storage is not implemented; the call answers with an error saying so. Next: kubeshark import FILE to load a pcap exported elsewhere, then create_snapshot."},
			func(context.Context, cloudArgs) (CloudStatusResult, string, error) {
				return CloudStatusResult{}, "", errNoCloud
			}),
	}
}

// enabledDissectors lists the dissectors the next import or dissection
// runs.
func (s *Server) enabledDissectors(ctx context.Context) ([]string, []string, error) {
	disabled, err := s.live(ctx).DisabledDissectors(ctx)
	if err != nil {
		return nil, nil, err
	}
	on := []string{}
	if !slices.Contains(disabled, "*") {
		for _, d := range s.dissectors() {
			if !slices.Contains(disabled, d.Manifest.Name) {
				on = append(on, d.Manifest.Name)
			}
		}
	}
	return on, disabled, nil
}

func (s *Server) checkStatus(ctx context.Context, _ noArgs) (StatusResult, string, error) {
	res := StatusResult{Running: true, Version: s.opts.Version, Snapshots: s.opts.Snapshots != nil,
		SnapshotDissection: s.opts.Snapshots != nil && s.opts.Dissect != nil, Destructive: s.opts.AllowDestructive, Tools: append([]string{}, s.order...)}
	sum, err := s.live(ctx).Summary(ctx)
	if err != nil {
		return res, "", err
	}
	res.Records = sum.Total
	if _, _, n, err := s.live(ctx).FlowBounds(ctx); err == nil {
		res.Flows = n
	}
	if s.opts.Packets != nil {
		if b, err := s.opts.Packets.Boundaries(ctx); err == nil {
			res.Packets = b.Count
		}
	}
	on, _, err := s.enabledDissectors(ctx)
	if err != nil {
		return res, "", err
	}
	res.Dissectors, res.DissectionEnabled = on, len(on) > 0
	if !res.DissectionEnabled {
		res.Notes = append(res.Notes, "all dissection is off: enable_dissection (with --allow-destructive) turns it back on")
	}
	if res.Records == 0 {
		res.Notes = append(res.Notes, "no calls stored yet: kubeshark import FILE loads a capture")
	}
	if !res.SnapshotDissection {
		res.Notes = append(res.Notes, "snapshot dissection needs a server with a data directory and dissectors (kubeshark mcp or kubeshark hub)")
	}
	res.Notes = append(res.Notes, "cloud snapshot storage is not available in this build")
	text := fmt.Sprintf("kubeshark %s running: %d records, %d flows, %d raw packets; dissection %s (%s); snapshots %s, snapshot dissection %s, cloud storage not available; %d tools",
		res.Version, res.Records, res.Flows, res.Packets, onOff(res.DissectionEnabled), strings.Join(on, ", "), onOff(res.Snapshots), onOff(res.SnapshotDissection), len(res.Tools))
	return res, text, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func l7Bounds(first, last time.Time, n int) L7Bounds {
	b := L7Bounds{Oldest: tp(first), Newest: tp(last), Records: n}
	if !first.IsZero() {
		b.OldestTS, b.NewestTS = first.UnixMilli(), last.UnixMilli()
	}
	return b
}

func (s *Server) l7Boundaries(ctx context.Context, _ noArgs) (L7BoundariesResult, string, error) {
	var res L7BoundariesResult
	sum, err := s.live(ctx).Summary(ctx)
	if err != nil {
		return res, "", err
	}
	on, _, err := s.enabledDissectors(ctx)
	if err != nil {
		return res, "", err
	}
	res.DissectionEnabled = len(on) > 0
	res.Cluster = l7Bounds(sum.First, sum.Last, sum.Total)
	// One store is one node's view; a cluster's hub lists each node that
	// answered (those that did not are in workers and partial).
	res.Nodes = []L7NodeBounds{{Node: "local", L7Bounds: res.Cluster}}
	if cl, ok := s.live(ctx).(*fanout.Cluster); ok {
		per, err := cl.NodeSummaries(ctx)
		if err != nil {
			return res, "", err
		}
		res.Nodes = res.Nodes[:0]
		for _, n := range per {
			res.Nodes = append(res.Nodes, L7NodeBounds{Node: n.Node, L7Bounds: l7Bounds(n.First, n.Last, n.Total)})
		}
	}
	res.ByProtocol = sum.ByProtocol
	if res.ByProtocol == nil {
		res.ByProtocol = map[string]int{}
	}
	text := fmt.Sprintf("dissection %s; ", onOff(res.DissectionEnabled))
	if sum.Total == 0 {
		text += "no dissected calls held"
		res.Note = "no dissected calls: import a capture, or dissect a snapshot's packets with start_snapshot_dissection"
	} else {
		text += fmt.Sprintf("%d dissected calls from %s to %s", sum.Total, sum.First.UTC().Format(time.RFC3339Nano), sum.Last.UTC().Format(time.RFC3339Nano))
	}
	return res, text, nil
}

// errNoDissection answers the snapshot dissection tools on a server that
// cannot run dissectors.
var errNoDissection = errors.New("snapshot dissection is not available on this server: it needs a data directory and the dissectors (kubeshark mcp or kubeshark hub run it)")

func (s *Server) startSnapshotDissection(ctx context.Context, a snapshotDissectionArgs) (snapshot.Dissection, string, error) {
	if s.opts.Snapshots == nil {
		return snapshot.Dissection{}, "", s.noSnapshots()
	}
	if s.opts.Dissect == nil {
		return snapshot.Dissection{}, "", errNoDissection
	}
	if a.ID == "" {
		return snapshot.Dissection{}, "", fmt.Errorf("%w: id (or snapshot_id) is required: list_snapshots shows them, create_snapshot makes one", ErrBadArgument)
	}
	on, disabled, err := s.enabledDissectors(ctx)
	if err != nil {
		return snapshot.Dissection{}, "", err
	}
	if len(on) == 0 {
		return snapshot.Dissection{}, "", fmt.Errorf("%w: every dissector is disabled, so a dissection would find nothing: enable_dissection first (needs --allow-destructive)", ErrBadArgument)
	}
	dissect := s.opts.Dissect
	d, err := s.opts.Snapshots.StartDissection(ctx, a.ID, on, func(ctx context.Context, src capture.Source, dst *storage.Store) error {
		return dissect(ctx, src, dst, disabled)
	})
	if err != nil {
		if errors.Is(err, snapshot.ErrNoPackets) {
			return d, "", fmt.Errorf("%w: %w", ErrBadArgument, err)
		}
		return d, "", err
	}
	return d, fmt.Sprintf("dissection %s of %s %s (%.0f%% of %d packets) with %s; poll get_snapshot_dissection_status", d.ID, d.SnapshotID, d.Status, d.Progress, d.TotalPackets, strings.Join(d.Dissectors, ", ")), nil
}

func (s *Server) snapshotDissectionStatus(ctx context.Context, a snapshotDissectionArgs) (DissectionStatusResult, string, error) {
	res := DissectionStatusResult{SnapshotID: a.ID, Status: "not_started", Queried: "the snapshot's own records (dissected when it was made)"}
	if s.opts.Snapshots == nil {
		return res, "", s.noSnapshots()
	}
	if a.ID == "" {
		return res, "", fmt.Errorf("%w: id (or snapshot_id) is required: list_snapshots shows them", ErrBadArgument)
	}
	list, err := s.opts.Snapshots.Dissections(ctx, a.ID)
	if err != nil {
		return res, "", err
	}
	for i := range list {
		if list[i].Status == snapshot.DissectionCompleted {
			res.Queried = "dissection " + list[i].ID
			break
		}
	}
	if len(list) == 0 {
		return res, fmt.Sprintf("%s: no dissection started; start_snapshot_dissection starts one", a.ID), nil
	}
	d := list[0]
	res.Dissection, res.Status, res.Progress = &d, d.Status, d.Progress
	text := fmt.Sprintf("%s: dissection %s %s, %.0f%% (%d of %d packets)", a.ID, d.ID, d.Status, d.Progress, d.Packets, d.TotalPackets)
	switch d.Status {
	case snapshot.DissectionCompleted:
		text += fmt.Sprintf(": %d records, %d flows; query them with snapshot_id=%s", d.Records, d.Flows, a.ID)
	case snapshot.DissectionFailed:
		text += ": " + d.Error + "; start_snapshot_dissection tries again"
	}
	return res, text, nil
}

func (s *Server) listSnapshotDissections(ctx context.Context, a listDissectionsArgs) (DissectionsResult, string, error) {
	if s.opts.Snapshots == nil {
		return DissectionsResult{}, "", s.noSnapshots()
	}
	list, err := s.opts.Snapshots.Dissections(ctx, a.ID)
	if err != nil {
		return DissectionsResult{}, "", err
	}
	counts := map[string]int{}
	for _, d := range list {
		counts[d.Status]++
	}
	return DissectionsResult{Dissections: list}, fmt.Sprintf("%d dissections: %d running, %d completed, %d failed", len(list), counts[snapshot.DissectionRunning], counts[snapshot.DissectionCompleted], counts[snapshot.DissectionFailed]), nil
}

func (s *Server) cloudStatus(context.Context, noArgs) (CloudStatusResult, string, error) {
	res := CloudStatusResult{Available: false, Reason: errNoCloud.Error()}
	return res, "cloud snapshot storage: " + res.Reason, nil
}
