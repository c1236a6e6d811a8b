package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync/atomic"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// ErrNoPackets reports a snapshot without raw packets to dissect.
var ErrNoPackets = errors.New("the snapshot holds no raw packets")

// DissectFunc runs dissectors over a capture, writing records and flows to
// dst: the import pipeline, given by the caller that holds the dissectors.
type DissectFunc func(ctx context.Context, src capture.Source, dst *storage.Store) error

// Dissection states.
const (
	DissectionRunning   = "running"
	DissectionCompleted = "completed"
	DissectionFailed    = "failed"
)

// Dissection is one run of dissectors over a snapshot's raw packets: a
// background job whose records and flows land in a store of their own
// beside the snapshot's, which stays as it was made.
type Dissection struct {
	ID         string `json:"id"`
	SnapshotID string `json:"snapshot_id"`
	// Status is running, completed or failed.
	Status string `json:"status"`
	// Progress is the share of the snapshot's packets read, 0 to 100.
	Progress float64 `json:"progress"`
	// Packets read so far, of TotalPackets.
	Packets      int64 `json:"packets"`
	TotalPackets int64 `json:"total_packets"`
	// Records and Flows are what the run stored, once completed.
	Records    int            `json:"records"`
	Flows      int            `json:"flows"`
	ByProtocol map[string]int `json:"by_protocol,omitempty"`
	// Dissectors are the dissectors the run used.
	Dissectors []string   `json:"dissectors"`
	Started    time.Time  `json:"started"`
	Finished   *time.Time `json:"finished,omitempty"`
	Error      string     `json:"error,omitempty"`
}

// job is a running dissection.
type job struct {
	d       Dissection
	packets atomic.Int64
	done    chan struct{}
}

var validDissectionID = regexp.MustCompile(`^dis-[0-9a-z]{16}$`)

func newDissectionID(now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("dis-%08x%08x", uint32(now.Unix()), binary.BigEndian.Uint32(b[:]))
}

// StartDissection starts dissecting snapshot id's raw packets again with
// run, in the background, and returns the job as started. While one runs
// for the snapshot, it returns that one instead of starting another.
// dissectors names the dissectors run uses, for the record.
func (m *Manager) StartDissection(ctx context.Context, id string, dissectors []string, run DissectFunc) (Dissection, error) {
	info, err := m.Get(ctx, id)
	if err != nil {
		return Dissection{}, err
	}
	if info.Packets == 0 {
		return Dissection{}, fmt.Errorf("snapshot %s: %w (it was made while no packet log was kept: import with --packets-size, or capture live)", id, ErrNoPackets)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Dissection{}, errors.New("snapshot: manager closed")
	}
	for _, j := range m.jobs {
		if j.d.SnapshotID == id {
			return j.snapshot(), nil
		}
	}
	now := time.Now().UTC()
	d := Dissection{ID: newDissectionID(now), SnapshotID: id, Status: DissectionRunning, TotalPackets: info.Packets,
		Dissectors: append([]string{}, dissectors...), Started: now}
	dir := filepath.Join(m.opts.Dir, id, "dissections", d.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Dissection{}, fmt.Errorf("snapshot %s: dissection: %w", id, err)
	}
	if err := writeDissection(dir, d); err != nil {
		return Dissection{}, err
	}
	j := &job{d: d, done: make(chan struct{})}
	m.jobs[d.ID] = j
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(j.done)
		final := m.dissect(m.base, j, dir, run)
		if err := writeDissection(dir, final); err != nil {
			m.opts.Logger.Warn("recording a dissection's end", "snapshot", id, "dissection", d.ID, "err", err)
		}
		m.mu.Lock()
		delete(m.jobs, d.ID)
		m.mu.Unlock()
	}()
	return j.snapshot(), nil
}

func (j *job) snapshot() Dissection {
	d := j.d
	d.Packets = j.packets.Load()
	if d.TotalPackets > 0 {
		d.Progress = min(99.9, 100*float64(d.Packets)/float64(d.TotalPackets))
	}
	return d
}

// dissect runs one job to its end and returns how it ended.
func (m *Manager) dissect(ctx context.Context, j *job, dir string, run DissectFunc) Dissection {
	d := j.d
	fail := func(err error) Dissection {
		now := time.Now().UTC()
		d.Status, d.Error, d.Finished, d.Packets = DissectionFailed, err.Error(), &now, j.packets.Load()
		return d
	}
	st, err := storage.Open(ctx, storage.Options{Dir: filepath.Join(dir, "store"), Small: true, Logger: m.opts.Logger})
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	cur, err := packetlog.NewReader(filepath.Join(m.opts.Dir, d.SnapshotID, "packets"), packetlog.Options{Logger: m.opts.Logger}).Packets(ctx, packetlog.Window{})
	if err != nil {
		return fail(err)
	}
	defer cur.Close()
	if err := run(ctx, &countingSource{Source: cur, n: &j.packets}, st); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: the server stopped (%w); start it again", err)
		}
		return fail(err)
	}
	// The snapshot's workload history goes with its new records.
	if err := m.copySnapshotAux(ctx, d.SnapshotID, st); err != nil {
		return fail(err)
	}
	sum, err := st.Summary(ctx)
	if err != nil {
		return fail(err)
	}
	_, _, flows, err := st.FlowBounds(ctx)
	if err != nil {
		return fail(err)
	}
	now := time.Now().UTC()
	d.Status, d.Finished, d.Progress = DissectionCompleted, &now, 100
	d.Packets, d.Records, d.Flows, d.ByProtocol = j.packets.Load(), sum.Total, flows, sum.ByProtocol
	return d
}

// countingSource counts the packets a dissection has read, for progress.
type countingSource struct {
	capture.Source
	n *atomic.Int64
}

func (c *countingSource) Next(ctx context.Context) (capture.Packet, error) {
	p, err := c.Source.Next(ctx)
	if err == nil {
		c.n.Add(1)
	}
	return p, err
}

func writeDissection(dir string, d Dissection) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".dissection.json.tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("snapshot %s: dissection %s: %w", d.SnapshotID, d.ID, err)
	}
	return os.Rename(tmp, filepath.Join(dir, "dissection.json"))
}

// Dissections lists the dissections of snapshot id (every snapshot's when
// id is empty), newest first. A dissection recorded as running that no job
// of this Manager runs was cut short by a stop, and says so.
func (m *Manager) Dissections(ctx context.Context, id string) ([]Dissection, error) {
	ids := []string{id}
	if id == "" {
		list, err := m.List(ctx)
		if err != nil {
			return nil, err
		}
		ids = ids[:0]
		for _, i := range list {
			ids = append(ids, i.ID)
		}
	} else if _, err := m.dir(id); err != nil {
		return nil, err
	}
	out := []Dissection{}
	for _, sid := range ids {
		base := filepath.Join(m.opts.Dir, sid, "dissections")
		ents, err := os.ReadDir(base)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: dissections: %w", sid, err)
		}
		for _, e := range ents {
			if !e.IsDir() || !validDissectionID.MatchString(e.Name()) {
				continue
			}
			d, err := m.dissection(base, e.Name())
			if err != nil {
				m.opts.Logger.Warn("unreadable dissection", "snapshot", sid, "dissection", e.Name(), "err", err)
				continue
			}
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

func (m *Manager) dissection(base, did string) (Dissection, error) {
	m.mu.Lock()
	if j := m.jobs[did]; j != nil {
		d := j.snapshot()
		m.mu.Unlock()
		return d, nil
	}
	m.mu.Unlock()
	b, err := os.ReadFile(filepath.Join(base, did, "dissection.json"))
	if err != nil {
		return Dissection{}, err
	}
	var d Dissection
	if err := json.Unmarshal(b, &d); err != nil {
		return Dissection{}, err
	}
	if d.Status == DissectionRunning {
		d.Status, d.Error = DissectionFailed, "interrupted: the server stopped while it ran; start it again"
	}
	return d, nil
}

// LatestDissection returns the newest dissection of snapshot id and
// whether there is one.
func (m *Manager) LatestDissection(ctx context.Context, id string) (Dissection, bool, error) {
	list, err := m.Dissections(ctx, id)
	if err != nil || len(list) == 0 {
		return Dissection{}, false, err
	}
	return list[0], true, nil
}

// DissectedStore opens the records and flows of the newest completed
// dissection of snapshot id; ok is false when it has none. The Manager
// keeps the store open until Close.
func (m *Manager) DissectedStore(ctx context.Context, id string) (st *storage.Store, d Dissection, ok bool, err error) {
	list, err := m.Dissections(ctx, id)
	if err != nil {
		return nil, d, false, err
	}
	for _, x := range list {
		if x.Status != DissectionCompleted {
			continue
		}
		key := id + "/" + x.ID
		m.mu.Lock()
		defer m.mu.Unlock()
		if s := m.open[key]; s != nil {
			return s, x, true, nil
		}
		s, err := storage.Open(ctx, storage.Options{Dir: filepath.Join(m.opts.Dir, id, "dissections", x.ID, "store"), Small: true, Logger: m.opts.Logger})
		if err != nil {
			return nil, x, false, fmt.Errorf("snapshot %s: dissection %s: %w", id, x.ID, err)
		}
		if err := m.prepare(ctx, s); err != nil {
			s.Close()
			return nil, x, false, fmt.Errorf("snapshot %s: dissection %s: %w", id, x.ID, err)
		}
		m.open[key] = s
		return s, x, true, nil
	}
	return nil, d, false, nil
}

// WaitDissections waits until no dissection runs (for tests and orderly
// stops).
func (m *Manager) WaitDissections() { m.wg.Wait() }

// copySnapshotAux copies the aux entries (the workload history) of a
// snapshot's store into dst.
func (m *Manager) copySnapshotAux(ctx context.Context, id string, dst *storage.Store) error {
	src, err := m.Store(ctx, id)
	if err != nil {
		return fmt.Errorf("snapshot %s: reading its workload history: %w", id, err)
	}
	return src.CopyAux(ctx, dst)
}
