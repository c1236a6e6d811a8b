package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Kinds of binding. A binding ties a key (an IP, a pod UID, a cgroup id) to
// what held it over an interval.
const (
	// KindPod: a pod IP held by a Pending or Running pod (not hostNetwork).
	KindPod = "pod"
	// KindPodUID: a pod by UID, whatever its network; the target of cgroup
	// bindings.
	KindPodUID = "uid"
	// KindService: a service's ClusterIP.
	KindService = "service"
	// KindNode: one of a node's addresses.
	KindNode = "node"
	// KindEndpoint: a pod IP listed in a service's EndpointSlice.
	KindEndpoint = "endpoint"
	// KindCgroup: a container's cgroup id (decimal), owned by a pod UID.
	KindCgroup = "cgroup"
	// KindNamespace: a namespace name, held by the namespace of that name
	// (by UID: one deleted and created again is another holder), with its
	// labels.
	KindNamespace = "namespace"
)

// Binding says what held Key from From until To (zero while it holds it).
type Binding struct {
	Kind string    `json:"kind"`
	Key  string    `json:"key"`
	UID  string    `json:"uid"`
	From time.Time `json:"from"`
	To   time.Time `json:"to,omitzero"`

	// Name is the pod, service or node name; Container the container id
	// of a cgroup binding.
	Name         string            `json:"name,omitempty"`
	Namespace    string            `json:"namespace,omitempty"`
	Node         string            `json:"node,omitempty"`
	Service      string            `json:"service,omitempty"`
	WorkloadKind string            `json:"workload_kind,omitempty"`
	Workload     string            `json:"workload,omitempty"`
	Container    string            `json:"container,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
}

func (b *Binding) covers(t time.Time) bool {
	return !t.Before(b.From) && (b.To.IsZero() || t.Before(b.To))
}

// sameFacts reports whether b and o name the same thing (ignoring the
// interval), so an update that changes nothing writes nothing.
func (b *Binding) sameFacts(o *Binding) bool {
	return b.Name == o.Name && b.Namespace == o.Namespace && b.Node == o.Node && b.Service == o.Service &&
		b.WorkloadKind == o.WorkloadKind && b.Workload == o.Workload && b.Container == o.Container &&
		maps.Equal(b.Labels, o.Labels)
}

// Aux is the part of the store a History persists to
// (*storage.Store implements it).
type Aux interface {
	PutAuxBatch(ctx context.Context, entries map[string][]byte) error
	ScanAux(ctx context.Context, prefix string, fn func(key string, val []byte) error) error
	DeleteAuxBatch(ctx context.Context, keys []string) error
}

const (
	auxBindings = "k8s/b/"
	auxSince    = "k8s/since"
)

// History is the record of what held each address over time. It is safe
// for concurrent use: informers write while queries read.
type History struct {
	mu sync.RWMutex
	// byKey holds the bindings of kind/key in From order.
	byKey map[string][]*Binding
	// open holds the open bindings of kind/uid by key.
	open map[string]map[string]*Binding
	// since is when the history first observed the cluster: before it,
	// nothing is known and a record resolves to the earliest knowledge.
	since time.Time
	gen   atomic.Uint64

	// aux is where bindings are saved; pending holds those not saved yet
	// (no store open, or a write failed), written by the next SetAux.
	auxMu   sync.Mutex
	aux     Aux
	pending map[string][]byte
	log     *slog.Logger
	// now is the clock (tests set it).
	now func() time.Time
}

// NewHistory returns an empty history that persists to aux (nil keeps it in
// memory only).
func NewHistory(aux Aux, log *slog.Logger) *History {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &History{byKey: map[string][]*Binding{}, open: map[string]map[string]*Binding{}, log: log, now: time.Now}
	if aux != nil {
		h.aux = aux
	}
	return h
}

// LoadHistory reads the history persisted in aux.
func LoadHistory(ctx context.Context, aux Aux, log *slog.Logger) (*History, error) {
	h := NewHistory(aux, log)
	err := aux.ScanAux(ctx, "k8s/", func(key string, val []byte) error {
		if key == auxSince {
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil {
				return fmt.Errorf("kube: history start %q: %w", val, err)
			}
			h.since = time.Unix(0, n)
			return nil
		}
		if !strings.HasPrefix(key, auxBindings) {
			return nil
		}
		b := new(Binding)
		if err := json.Unmarshal(val, b); err != nil {
			return fmt.Errorf("kube: history entry %q: %w", key, err)
		}
		h.insert(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kube: loading the workload history: %w", err)
	}
	for _, l := range h.byKey {
		slices.SortFunc(l, func(a, b *Binding) int { return a.From.Compare(b.From) })
	}
	return h, nil
}

func kindKey(kind, key string) string { return kind + "/" + key }

func (h *History) insert(b *Binding) {
	kk := kindKey(b.Kind, b.Key)
	h.byKey[kk] = append(h.byKey[kk], b)
	if b.To.IsZero() {
		ku := kindKey(b.Kind, b.UID)
		if h.open[ku] == nil {
			h.open[ku] = map[string]*Binding{}
		}
		h.open[ku][b.Key] = b
	}
}

// auxKey names a binding in the store: its kind, key, UID and start, so
// one object holding one key twice (a pod that lost and regained an IP)
// keeps both intervals.
func auxKey(b *Binding) string {
	return fmt.Sprintf("%s%s/%s/%s/%016x", auxBindings, b.Kind, b.Key, b.UID, b.From.UnixNano())
}

// Since is when the history first observed a cluster; zero when it never
// has.
func (h *History) Since() time.Time {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.since
}

// Len is the number of bindings held.
func (h *History) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, l := range h.byKey {
		n += len(l)
	}
	return n
}

// Generation implements storage.Resolver: it changes when a change can
// rename records stored before it.
func (h *History) Generation() uint64 { return h.gen.Load() }

// Observe records the state of one object at time at: the bindings of
// kind it holds now, by key (want; nil or empty when it holds none, e.g.
// deleted). Bindings of the object not in want are closed at at; new ones
// open at from (at, or an earlier time known from the object, such as its
// creation when it is first listed). Bindings whose facts changed (labels,
// service) are closed and reopened at at, so a record resolves to what was
// true at its time.
func (h *History) Observe(ctx context.Context, kind, uid string, want map[string]*Binding, from, at time.Time) error {
	h.mu.Lock()
	dirty := h.observeLocked(kind, uid, want, from, at)
	h.mu.Unlock()
	return h.persist(ctx, dirty)
}

func (h *History) observeLocked(kind, uid string, want map[string]*Binding, from, at time.Time) []*Binding {
	if h.since.IsZero() {
		h.since = at
	}
	var dirty []*Binding
	ku := kindKey(kind, uid)
	cur := h.open[ku]
	for key, b := range cur {
		if w, ok := want[key]; ok && b.sameFacts(w) {
			continue
		}
		b.To = at
		delete(cur, key)
		dirty = append(dirty, b)
	}
	for key, w := range want {
		if _, ok := cur[key]; ok {
			continue
		}
		start := from
		if _, had := h.lastOf(kind, key, uid); had {
			// Facts changed on an object already known: the new facts
			// start now, not at its creation.
			start = at
		}
		// A pod IP has one holder: a new holder ends an old one whose end
		// the informer missed (a restart, a compacted watch).
		if kind == KindPod {
			for _, o := range h.byKey[kindKey(kind, key)] {
				if o.To.IsZero() && o.UID != uid {
					o.To = start
					delete(h.open[kindKey(kind, o.UID)], key)
					dirty = append(dirty, o)
				}
			}
		}
		b := *w
		b.Kind, b.Key, b.UID, b.From, b.To = kind, key, uid, start, time.Time{}
		if len(h.byKey[kindKey(kind, key)]) == 0 || start.Before(at.Add(-time.Minute)) {
			// A first binding of a key, or one reaching back in time, can
			// rename records already stored (and the rollups made of them).
			h.gen.Add(1)
		}
		h.insertSorted(&b)
		dirty = append(dirty, &b)
	}
	return dirty
}

// lastOf returns the latest binding of kind/key held by uid.
func (h *History) lastOf(kind, key, uid string) (*Binding, bool) {
	l := h.byKey[kindKey(kind, key)]
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].UID == uid {
			return l[i], true
		}
	}
	return nil, false
}

func (h *History) insertSorted(b *Binding) {
	kk := kindKey(b.Kind, b.Key)
	l := h.byKey[kk]
	i, _ := slices.BinarySearchFunc(l, b.From, func(x *Binding, t time.Time) int {
		if x.From.After(t) {
			return 1
		}
		return -1
	})
	h.byKey[kk] = slices.Insert(l, i, b)
	ku := kindKey(b.Kind, b.UID)
	if h.open[ku] == nil {
		h.open[ku] = map[string]*Binding{}
	}
	h.open[ku][b.Key] = b
}

// Reconcile closes, at at, the open bindings of kind whose object is not
// in present (by UID): objects deleted while nobody watched.
func (h *History) Reconcile(ctx context.Context, kind string, present map[string]bool, at time.Time) error {
	h.mu.Lock()
	var dirty []*Binding
	prefix := kind + "/"
	for ku, m := range h.open {
		if !strings.HasPrefix(ku, prefix) || present[strings.TrimPrefix(ku, prefix)] {
			continue
		}
		for key, b := range m {
			b.To = at
			delete(m, key)
			dirty = append(dirty, b)
		}
	}
	if h.since.IsZero() {
		h.since = at
	}
	h.mu.Unlock()
	return h.persist(ctx, dirty)
}

// SetAux makes aux the store bindings are saved to (nil: none for now,
// e.g. while a hub has let go of its store) and saves there what could not
// be saved before.
func (h *History) SetAux(ctx context.Context, aux Aux) error {
	h.auxMu.Lock()
	h.aux = aux
	h.auxMu.Unlock()
	return h.persist(ctx, nil)
}

// Pending is how many bindings wait for a store to be saved to.
func (h *History) Pending() int {
	h.auxMu.Lock()
	defer h.auxMu.Unlock()
	return len(h.pending)
}

func (h *History) persist(ctx context.Context, dirty []*Binding) error {
	h.mu.RLock()
	entries := make(map[string][]byte, len(dirty)+1)
	for _, b := range dirty {
		v, err := json.Marshal(b)
		if err != nil {
			h.mu.RUnlock()
			return fmt.Errorf("kube: encoding binding %s/%s: %w", b.Kind, b.Key, err)
		}
		entries[auxKey(b)] = v
	}
	if !h.since.IsZero() {
		entries[auxSince] = []byte(strconv.FormatInt(h.since.UnixNano(), 10))
	}
	h.mu.RUnlock()
	h.auxMu.Lock()
	defer h.auxMu.Unlock()
	if h.pending == nil {
		h.pending = map[string][]byte{}
	}
	// Later states of a binding replace earlier ones under its key.
	maps.Copy(h.pending, entries)
	if h.aux == nil {
		return nil
	}
	if err := h.aux.PutAuxBatch(ctx, h.pending); err != nil {
		if errors.Is(err, storage.ErrClosed) {
			// The store was let go (a hub between calls): keep the
			// bindings for the next SetAux.
			h.aux = nil
			return nil
		}
		return fmt.Errorf("kube: saving the workload history: %w", err)
	}
	clear(h.pending)
	return nil
}

// Prune forgets the bindings that ended at or before before (the oldest
// record still stored, once retention has dropped older ones), in memory
// and in the store, and returns how many went. A record at or after before
// resolves as it did: a binding ending by then covers no such record, and
// open bindings stay. The history's start stays too, so a record older
// than it still resolves to the earliest knowledge left.
func (h *History) Prune(ctx context.Context, before time.Time) (removed int, err error) {
	if before.IsZero() {
		return 0, nil
	}
	h.mu.Lock()
	var keys []string
	for kk, l := range h.byKey {
		kept := l[:0]
		for _, b := range l {
			if !b.To.IsZero() && !b.To.After(before) {
				keys = append(keys, auxKey(b))
				continue
			}
			kept = append(kept, b)
		}
		clear(l[len(kept):])
		if len(kept) == 0 {
			delete(h.byKey, kk)
		} else {
			h.byKey[kk] = kept
		}
	}
	h.mu.Unlock()
	if len(keys) == 0 {
		return 0, nil
	}
	h.auxMu.Lock()
	defer h.auxMu.Unlock()
	for _, k := range keys {
		// Not saved yet: nothing to delete, and nothing to save later.
		delete(h.pending, k)
	}
	if h.aux == nil {
		// Entries of a store let go stay there; the next load brings
		// them back and the next pruning removes them.
		return len(keys), nil
	}
	slices.Sort(keys)
	if err := h.aux.DeleteAuxBatch(ctx, keys); err != nil {
		return len(keys), fmt.Errorf("kube: pruning %d bindings from the workload history: %w", len(keys), err)
	}
	return len(keys), nil
}

// lookup returns the bindings of kind/key that held it at t, latest start
// first. Before the history's start nothing was watched: t is taken as the
// start (the state when first observed), and a key first seen later
// resolves to its earliest binding — for an old capture, the current state
// is the best knowledge there is.
func (h *History) lookup(kind, key string, t time.Time) []*Binding {
	return h.lookupAt(kind, key, t, true)
}

// lookupAt is lookup; without earliest, a key first seen after t (and the
// history's start) resolves to nothing.
func (h *History) lookupAt(kind, key string, t time.Time, earliest bool) []*Binding {
	l := h.byKey[kindKey(kind, key)]
	if len(l) == 0 {
		return nil
	}
	before := !h.since.IsZero() && t.Before(h.since)
	if before {
		t = h.since
	}
	var out []*Binding
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].covers(t) {
			out = append(out, l[i])
		}
	}
	if len(out) == 0 && before && earliest {
		out = append(out, l[0])
	}
	return out
}

// latest is lookup's first answer (nil for none) without building the
// list: what a key with one holder at a time needs.
func (h *History) latest(kind, key string, t time.Time) *Binding {
	l := h.byKey[kindKey(kind, key)]
	if len(l) == 0 {
		return nil
	}
	before := !h.since.IsZero() && t.Before(h.since)
	if before {
		t = h.since
	}
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].covers(t) {
			return l[i]
		}
	}
	if before {
		return l[0]
	}
	return nil
}

// Lookup is lookup under the lock, for tests and callers outside a query.
func (h *History) Lookup(kind, key string, t time.Time) []Binding {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []Binding
	for _, b := range h.lookup(kind, key, t) {
		out = append(out, *b)
	}
	return out
}

// canonIP returns the canonical text of an IP (IPv4-mapped IPv6 unmapped),
// or s when it is not one.
func canonIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return a.Unmap().WithZone("").String()
}

// ResolveEndpoint implements storage.Resolver: it names e from what held
// its address (or, with a cgroup id, its socket's container) at time at,
// and leaves it as it is when nothing did.
func (h *History) ResolveEndpoint(e *sdk.Endpoint, cgroupID uint64, at time.Time) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.byKey) == 0 {
		return
	}
	var k *sdk.K8s
	var ns string
	ip := canonIP(e.IP)
	// podAt is the time the pod binding found holds: the services of the
	// pod are looked up then, so that a record resolved to a pod by
	// best knowledge gets that pod's services, not later ones.
	var podAt time.Time
	pod := func(b *Binding) {
		k, ns, podAt = podK8s(b), b.Namespace, at
		if !b.covers(at) {
			podAt = b.From
		}
	}
	if cgroupID != 0 {
		if c := h.lookup(KindCgroup, strconv.FormatUint(cgroupID, 10), at); len(c) > 0 {
			if p := h.lookup(KindPodUID, c[0].UID, at); len(p) > 0 {
				pod(p[0])
			}
		}
	}
	if k == nil {
		if p := h.lookup(KindPod, ip, at); len(p) > 0 {
			pod(p[0])
		}
	}
	if k != nil {
		// The services whose endpoints list the pod's address, first by
		// name for a stable answer.
		var svcs []string
		for _, b := range h.lookupAt(KindEndpoint, ip, podAt, false) {
			if b.Namespace == ns {
				svcs = append(svcs, b.Service)
			}
		}
		if len(svcs) > 0 {
			slices.Sort(svcs)
			k.Service = svcs[0]
		}
	} else if s := h.lookup(KindService, ip, at); len(s) > 0 {
		k, ns = &sdk.K8s{Service: s[0].Name, Labels: s[0].Labels}, s[0].Namespace
	} else if n := h.lookup(KindNode, ip, at); len(n) > 0 {
		k = &sdk.K8s{Node: n[0].Name, Labels: n[0].Labels}
	}
	if k == nil {
		return
	}
	if ns != "" {
		// The labels the namespace carried at the record's time (the
		// first known for a record older than the history).
		if n := h.latest(KindNamespace, ns, at); n != nil {
			k.NamespaceLabels = n.Labels
		}
	}
	e.K8s = k
	e.Namespace = ns
	e.Name = cmpOr(k.Service, k.Workload, k.Pod, k.Node)
}

func podK8s(b *Binding) *sdk.K8s {
	return &sdk.K8s{Pod: b.Name, Node: b.Node, WorkloadKind: b.WorkloadKind, Workload: b.Workload, Labels: b.Labels}
}

func cmpOr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
