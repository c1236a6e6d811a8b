package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/decode"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/runtime/pktfilter"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// ErrNotFound reports an unknown snapshot id.
var ErrNotFound = errors.New("snapshot not found")

// ErrEmptyWindow reports a window with nothing in it to snapshot.
var ErrEmptyWindow = errors.New("nothing in the window")

// Info describes a snapshot.
type Info struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Start and End are the window the snapshot froze, [Start, End).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Records, Flows and Packets are what it holds; PacketBytes is the size
	// of its packet files.
	Records     int   `json:"records"`
	Flows       int   `json:"flows"`
	Packets     int64 `json:"packets"`
	PacketBytes int64 `json:"packet_bytes"`
	// ByProtocol counts its records per protocol.
	ByProtocol map[string]int `json:"by_protocol"`
	// Status is "completed": a snapshot is built before Create returns
	// (Kubeshark's snapshots are built in the background, and its agents
	// poll this field).
	Status string `json:"status"`
}

// Options configures a Manager.
type Options struct {
	// Dir holds the snapshots, one directory each.
	Dir string
	// Packets is the live packet log; nil makes snapshots without packets.
	Packets *packetlog.Reader
	Logger  *slog.Logger
	// Prepare, when set, is called on every snapshot store opened for
	// queries (Store, DissectedStore), e.g. to give it the resolver of the
	// workload history the snapshot carries.
	Prepare func(ctx context.Context, st *storage.Store) error
}

// Manager creates, lists, opens and exports snapshots. It is safe for
// concurrent use.
type Manager struct {
	opts Options
	mu   sync.Mutex
	open map[string]*storage.Store
	// jobs are the running dissections by id; base is their context,
	// cancelled by Close, which waits for them (wg).
	jobs   map[string]*job
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// Open prepares the snapshot directory and removes the leftovers of
// snapshots whose creation was interrupted.
func Open(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Dir == "" {
		return nil, errors.New("snapshot: Options.Dir is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	ents, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() && len(e.Name()) > 5 && e.Name()[:5] == ".tmp-" {
			opts.Logger.Warn("removing an interrupted snapshot", "dir", e.Name())
			os.RemoveAll(filepath.Join(opts.Dir, e.Name()))
		}
	}
	base, cancel := context.WithCancel(context.Background())
	return &Manager{opts: opts, open: map[string]*storage.Store{}, jobs: map[string]*job{}, base: base, cancel: cancel}, nil
}

// Close stops the running dissections (they are recorded as interrupted)
// and closes the snapshot stores opened for queries.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for id, s := range m.open {
		errs = append(errs, s.Close())
		delete(m.open, id)
	}
	return errors.Join(errs...)
}

var validID = regexp.MustCompile(`^snap-[0-9a-z]{16}$`)

func newID(now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("snap-%08x%08x", uint32(now.Unix()), binary.BigEndian.Uint32(b[:]))
}

// Create copies the window [start, end) of the live store src (and of the
// packet log) into a new snapshot. A zero start or end takes the oldest or
// newest data held.
func (m *Manager) Create(ctx context.Context, src *storage.Store, name string, start, end time.Time) (Info, error) {
	now := time.Now().UTC()
	if start.IsZero() || end.IsZero() {
		first, last, err := src.Bounds(ctx)
		if err != nil {
			return Info{}, err
		}
		if start.IsZero() {
			start = first
		}
		if end.IsZero() {
			end = last.Add(time.Nanosecond)
		}
	}
	if !end.After(start) {
		return Info{}, fmt.Errorf("snapshot: window %s – %s: %w", start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano), ErrEmptyWindow)
	}
	id := newID(now)
	if name == "" {
		name = "snapshot " + now.Format(time.RFC3339)
	}
	tmp := filepath.Join(m.opts.Dir, ".tmp-"+id)
	info, err := m.build(ctx, src, tmp, id, name, now, start, end)
	if err != nil {
		os.RemoveAll(tmp)
		return Info{}, err
	}
	if info.Records == 0 && info.Flows == 0 && info.Packets == 0 {
		os.RemoveAll(tmp)
		return Info{}, fmt.Errorf("snapshot: window %s – %s: %w", start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano), ErrEmptyWindow)
	}
	if err := os.Rename(tmp, filepath.Join(m.opts.Dir, id)); err != nil {
		os.RemoveAll(tmp)
		return Info{}, fmt.Errorf("snapshot %s: %w", id, err)
	}
	return info, nil
}

func (m *Manager) build(ctx context.Context, src *storage.Store, dir, id, name string, now, start, end time.Time) (Info, error) {
	info := Info{ID: id, Name: name, Created: now, Start: start.UTC(), End: end.UTC(), ByProtocol: map[string]int{}, Status: "completed"}
	st, err := storage.Open(ctx, storage.Options{Dir: filepath.Join(dir, "store"), Small: true, Logger: m.opts.Logger})
	if err != nil {
		return info, fmt.Errorf("snapshot %s: %w", id, err)
	}
	defer st.Close()
	q := storage.Query{Since: start, Until: end, Limit: 1000, WithBodies: true}
	for {
		p, err := src.Query(ctx, q)
		if err != nil {
			return info, fmt.Errorf("snapshot %s: copying records: %w", id, err)
		}
		if err := st.Put(ctx, p.Records); err != nil {
			return info, fmt.Errorf("snapshot %s: copying records: %w", id, err)
		}
		for _, r := range p.Records {
			info.ByProtocol[r.Protocol]++
		}
		info.Records += len(p.Records)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	fq := storage.FlowQuery{Since: start, Until: end, Limit: 1000}
	for {
		p, err := src.Flows(ctx, fq)
		if err != nil {
			return info, fmt.Errorf("snapshot %s: copying flows: %w", id, err)
		}
		if err := st.PutFlows(ctx, p.Flows); err != nil {
			return info, fmt.Errorf("snapshot %s: copying flows: %w", id, err)
		}
		info.Flows += len(p.Flows)
		if p.Next == "" {
			break
		}
		fq.Cursor = p.Next
	}
	// The workload history goes whole, so the snapshot's records resolve
	// as they did in the store.
	if err := src.CopyAux(ctx, st); err != nil {
		return info, fmt.Errorf("snapshot %s: copying the workload history: %w", id, err)
	}
	if m.opts.Packets != nil {
		if err := m.copyPackets(ctx, dir, start, end, &info); err != nil {
			return info, fmt.Errorf("snapshot %s: copying packets: %w", id, err)
		}
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return info, err
	}
	if err := os.WriteFile(filepath.Join(dir, "info.json"), b, 0o644); err != nil {
		return info, fmt.Errorf("snapshot %s: %w", id, err)
	}
	return info, nil
}

func (m *Manager) copyPackets(ctx context.Context, dir string, start, end time.Time, info *Info) error {
	cur, err := m.opts.Packets.Packets(ctx, packetlog.Window{Since: start, Until: end})
	if err != nil {
		return err
	}
	defer cur.Close()
	// The snapshot's log has no cap: it holds exactly the window.
	w, err := packetlog.Open(ctx, filepath.Join(dir, "packets"), packetlog.Options{MaxBytes: 1 << 62, Logger: m.opts.Logger})
	if err != nil {
		return err
	}
	for {
		p, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			w.Close()
			return err
		}
		if err := w.Write(p); err != nil {
			w.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	b, err := packetlog.NewReader(filepath.Join(dir, "packets"), packetlog.Options{}).Boundaries(ctx)
	if err != nil {
		return err
	}
	info.Packets, info.PacketBytes = b.Packets, b.Bytes
	return nil
}

func (m *Manager) dir(id string) (string, error) {
	if !validID.MatchString(id) {
		return "", fmt.Errorf("snapshot %q: %w (ids look like snap-6750a1b2c3d4e5f6)", id, ErrNotFound)
	}
	d := filepath.Join(m.opts.Dir, id)
	if _, err := os.Stat(filepath.Join(d, "info.json")); err != nil {
		return "", fmt.Errorf("snapshot %q: %w", id, ErrNotFound)
	}
	return d, nil
}

// Get returns one snapshot's description.
func (m *Manager) Get(ctx context.Context, id string) (Info, error) {
	d, err := m.dir(id)
	if err != nil {
		return Info{}, err
	}
	b, err := os.ReadFile(filepath.Join(d, "info.json"))
	if err != nil {
		return Info{}, fmt.Errorf("snapshot %s: %w", id, err)
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return Info{}, fmt.Errorf("snapshot %s: info.json: %w", id, err)
	}
	if info.Status == "" {
		info.Status = "completed" // made before the field existed
	}
	return info, nil
}

// List returns every snapshot, newest first.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	ents, err := os.ReadDir(m.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	out := []Info{}
	for _, e := range ents {
		if !e.IsDir() || !validID.MatchString(e.Name()) {
			continue
		}
		info, err := m.Get(ctx, e.Name())
		if err != nil {
			m.opts.Logger.Warn("unreadable snapshot", "id", e.Name(), "err", err)
			continue
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Store opens a snapshot's records and flows for queries; the Manager keeps
// it open until Close.
func (m *Manager) Store(ctx context.Context, id string) (*storage.Store, error) {
	d, err := m.dir(id)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.open[id]; s != nil {
		return s, nil
	}
	s, err := storage.Open(ctx, storage.Options{Dir: filepath.Join(d, "store"), Small: true, Logger: m.opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	if err := m.prepare(ctx, s); err != nil {
		s.Close()
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	m.open[id] = s
	return s, nil
}

// Delete removes a snapshot.
func (m *Manager) Delete(ctx context.Context, id string) error {
	d, err := m.dir(id)
	if err != nil {
		return err
	}
	m.mu.Lock()
	for key, s := range m.open {
		if key == id || strings.HasPrefix(key, id+"/") {
			s.Close()
			delete(m.open, key)
		}
	}
	m.mu.Unlock()
	return os.RemoveAll(d)
}

// ExportFilter narrows a pcap export.
type ExportFilter struct {
	// BPF keeps the packets a tcpdump-style expression matches.
	BPF *pktfilter.Filter
	// Match keeps the packets of the connections that carried at least one
	// record it matches (a KFL filter), within those connections' lifetime.
	Match storage.Matcher
}

// Export writes the snapshot's packets as one pcapng file and returns how
// many it wrote.
func (m *Manager) Export(ctx context.Context, id string, w io.Writer, f ExportFilter) (int, error) {
	d, err := m.dir(id)
	if err != nil {
		return 0, err
	}
	match, err := m.matcher(ctx, id, f)
	if err != nil {
		return 0, err
	}
	n, err := packetlog.NewReader(filepath.Join(d, "packets"), packetlog.Options{Logger: m.opts.Logger}).Export(ctx, w, packetlog.Window{}, match)
	if err != nil {
		return n, fmt.Errorf("snapshot %s: export: %w", id, err)
	}
	return n, nil
}

// conn is one connection's endpoints, in a canonical order, and lifetime.
type conn struct {
	a, b     string
	from, to time.Time
}

func canon(x, y string) (string, string) {
	if x > y {
		return y, x
	}
	return x, y
}

// matcher combines the export filters into one packet predicate.
func (m *Manager) matcher(ctx context.Context, id string, f ExportFilter) (func(capture.Packet) bool, error) {
	var conns map[[2]string][]conn
	if f.Match != nil {
		st, err := m.Store(ctx, id)
		if err != nil {
			return nil, err
		}
		conns = map[[2]string][]conn{}
		streams := map[string]bool{}
		q := storage.Query{Match: f.Match, Limit: 1000}
		for {
			p, err := st.Query(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("snapshot %s: export filter: %w", id, err)
			}
			for _, r := range p.Records {
				if streams[r.Stream] {
					continue
				}
				streams[r.Stream] = true
				c := connOf(ctx, st, r)
				k := [2]string{c.a, c.b}
				conns[k] = append(conns[k], c)
			}
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
		}
	}
	if f.BPF == nil && conns == nil {
		return nil, nil
	}
	dec := decode.New(decode.Options{})
	var seg packet.Segment
	return func(p capture.Packet) bool {
		if f.BPF != nil && !f.BPF.Match(p) {
			return false
		}
		if conns == nil {
			return true
		}
		ok, err := dec.Decode(p, &seg)
		if err != nil || !ok {
			return false
		}
		a, b := canon(seg.Src.String(), seg.Dst.String())
		for _, c := range conns[[2]string{a, b}] {
			if !p.Timestamp.Before(c.from) && !p.Timestamp.After(c.to) {
				return true
			}
		}
		return false
	}, nil
}

// connOf finds the lifetime of the connection that carried r: its stored
// flow, or else the record's own time span with a second's margin.
func connOf(ctx context.Context, st *storage.Store, r *sdk.Record) conn {
	a, b := canon(r.Src.String(), r.Dst.String())
	if fl, err := st.Flow(ctx, r.Stream); err == nil {
		return conn{a: a, b: b, from: fl.Start, to: fl.End}
	}
	end := r.Timestamp
	if r.ElapsedMs != nil {
		end = end.Add(time.Duration(*r.ElapsedMs * float64(time.Millisecond)))
	}
	return conn{a: a, b: b, from: r.Timestamp.Add(-time.Second), to: end.Add(time.Second)}
}

func (m *Manager) prepare(ctx context.Context, st *storage.Store) error {
	if m.opts.Prepare == nil {
		return nil
	}
	return m.opts.Prepare(ctx, st)
}
