package fanout

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// ErrNoWorkers is returned when discovery finds no worker to ask.
var ErrNoWorkers = errors.New("fanout: no workers")

// Options configures a Cluster.
type Options struct {
	// Discovery lists the workers. Required.
	Discovery Discovery
	// Token is the workers' bearer token.
	Token string
	// Client makes the requests; nil uses one with short connect and
	// response-header timeouts, so that a node that is gone fails fast.
	Client *http.Client
	// NodeTimeout is how long a worker may stay silent, before its answer
	// starts or between two parts of a stream, before it counts as a node
	// that did not answer; 30s when zero. A stuck node must not hold up
	// the answer of the others.
	NodeTimeout time.Duration
	Logger      *slog.Logger
}

// Cluster reads the stores of every worker as one. It implements what the
// MCP tools read from a store, and analysis.MinuteCache (the rollups it
// builds from the merged records are cached in memory on the hub).
type Cluster struct {
	opts    Options
	client  *http.Client
	derived *derivedCache
	parked  parking
}

// New returns a Cluster over the workers opts.Discovery lists.
func New(opts Options) (*Cluster, error) {
	if opts.Discovery == nil {
		return nil, errors.New("fanout: Options.Discovery is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.NodeTimeout <= 0 {
		opts.NodeTimeout = 30 * time.Second
	}
	c := &Cluster{opts: opts, client: opts.Client, derived: newDerivedCache(derivedCacheEntries)}
	if c.client == nil {
		c.client = &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	return c, nil
}

func (c *Cluster) workers(ctx context.Context) ([]Worker, error) {
	ws, err := c.opts.Discovery.Workers(ctx)
	if err != nil {
		return nil, fmt.Errorf("fanout: discover workers: %w", err)
	}
	if len(ws) == 0 {
		return nil, ErrNoWorkers
	}
	return ws, nil
}

// do sends one request to a worker and returns the response when it is a
// success, or an error carrying the worker's own message.
func (c *Cluster) do(ctx context.Context, w Worker, method, path string, body any) (*http.Response, error) {
	if w.Unavailable != "" {
		return nil, errors.New(w.Unavailable)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(mustJSON(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, w.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if c.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the node's name already
		}
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var e errorResponse
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(b))
	}
	err = fmt.Errorf("%s %s: %s", resp.Status, path, e.Error)
	switch resp.StatusCode {
	case http.StatusNotFound:
		err = fmt.Errorf("%w: %s", storage.ErrNotFound, e.Error)
	case http.StatusBadRequest:
		err = &badRequest{msg: e.Error}
	}
	return nil, err
}

// nodeFailed reports a node that did not answer, to the call and the log.
func (c *Cluster) nodeFailed(rep *Report, node string, err error) {
	c.opts.Logger.Warn("fanout: node did not answer", "node", node, "err", err)
	rep.failed(node, err)
}

// badRequest is a worker refusing the query itself (a filter, a cursor):
// the same on every node, so it is the caller's error, not a node's.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }
func (e *badRequest) Unwrap() error { return storage.ErrBadFilter }

// getJSON does a request and decodes its JSON answer into v.
func (c *Cluster) getJSON(ctx context.Context, w Worker, method, path string, body, v any) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.NodeTimeout)
	defer cancel()
	resp, err := c.do(ctx, w, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if v == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("reading the answer to %s: %w", path, err)
	}
	return nil
}

// each runs fn on every worker at once and reports each outcome; it
// returns the workers' errors by index.
func (c *Cluster) each(ctx context.Context, ws []Worker, fn func(ctx context.Context, i int, w Worker) error) []error {
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(ctx, i, w)
		}()
	}
	wg.Wait()
	return errs
}

// allFailed builds the error of a call no node answered.
func allFailed(what string, ws []Worker, errs []error) error {
	msgs := make([]string, len(ws))
	for i, w := range ws {
		msgs[i] = w.Node + ": " + errs[i].Error()
	}
	return fmt.Errorf("fanout: %s: no node answered (%s)", what, strings.Join(msgs, "; "))
}

// Query returns the records matching q across the workers, as one store
// holding all of them would: in id order (time order; Newest reverses
// it), at most q.Limit, with a cursor that continues after the last id.
func (c *Cluster) Query(ctx context.Context, q storage.Query) (storage.Page, error) {
	if q.Cursor != "" {
		// A cursor is an id; checking it here makes a bad one the
		// caller's error, as on one store.
		if !isID(q.Cursor) {
			return storage.Page{}, fmt.Errorf("fanout: query: %w: %q is not a record id", storage.ErrBadCursor, q.Cursor)
		}
	}
	req := recordsRequest{Filter: q.Filter.String(), Since: q.Since, Until: q.Until, Newest: q.Newest,
		Cursor: q.Cursor, WithBodies: q.WithBodies, SizesOnly: q.SizesOnly}
	if q.Match != nil {
		req.KFL = q.Match.String()
	}
	less := func(a, b *sdk.Record) bool { return a.ID < b.ID }
	if q.Newest {
		less = func(a, b *sdk.Record) bool { return a.ID > b.ID }
	}
	// The query without its cursor names the merge a next page continues
	// (parking.go).
	key := string(mustJSON(recordsRequest{Filter: req.Filter, KFL: req.KFL, Since: req.Since, Until: req.Until,
		Newest: req.Newest, WithBodies: req.WithBodies, SizesOnly: req.SizesOnly})) + "\x00"
	var m *merger[*sdk.Record]
	if q.Cursor != "" {
		m = c.parked.take(key + q.Cursor)
	}
	if m == nil {
		var err error
		if m, err = startMerge(ctx, c, pathRecords, req, decodeRecord, less, nil); err != nil {
			return storage.Page{}, fmt.Errorf("fanout: query %q: %w", describe(q), err)
		}
	}
	out, more, err := m.page(ctx, reportOf(ctx), q.Limit, c.opts.Logger)
	if err != nil {
		m.close()
		return storage.Page{}, fmt.Errorf("fanout: query %q: %w", describe(q), err)
	}
	page := storage.Page{Records: out}
	if more && len(out) > 0 {
		page.Next = out[len(out)-1].ID
		c.parked.park(key+page.Next, m)
	} else {
		m.close()
	}
	return page, nil
}

// Close stops the merges kept for a next page. The Cluster stays usable.
func (c *Cluster) Close() error {
	c.parked.closeAll()
	return nil
}

func describe(q storage.Query) string {
	switch {
	case q.Match == nil:
		return q.Filter.String()
	case q.Filter.Empty():
		return q.Match.String()
	}
	return q.Filter.String() + " && " + q.Match.String()
}

// Flows returns the flows matching q across the workers in start-time
// order, as one store would. q.Match runs here, on what the workers send.
func (c *Cluster) Flows(ctx context.Context, q storage.FlowQuery) (storage.FlowPage, error) {
	if q.Cursor != "" {
		ns, id, ok := strings.Cut(q.Cursor, ".")
		if _, err := strconv.ParseUint(ns, 10, 64); err != nil || !ok || id == "" {
			return storage.FlowPage{}, fmt.Errorf("fanout: flows: %w: %q is not start.id", storage.ErrBadCursor, q.Cursor)
		}
	}
	req := flowsRequest{Since: q.Since, Until: q.Until, Cursor: q.Cursor}
	less := func(a, b *sdk.Flow) bool {
		return cmp.Or(cmp.Compare(flowNanos(a), flowNanos(b)), strings.Compare(a.ID, b.ID)) < 0
	}
	out, more, err := merge(ctx, c, pathFlows, req, decodeFlow, less, q.Match, q.Limit)
	if err != nil {
		return storage.FlowPage{}, fmt.Errorf("fanout: flows: %w", err)
	}
	page := storage.FlowPage{Flows: out}
	if more && len(out) > 0 {
		last := out[len(out)-1]
		// A store's flow cursor: the last key's start and id.
		page.Next = strconv.FormatUint(flowNanos(last), 10) + "." + last.ID
	}
	return page, nil
}

// flowNanos is the start time as a store orders it (clamped at the epoch).
func flowNanos(f *sdk.Flow) uint64 {
	if f.Start.IsZero() || f.Start.Before(time.Unix(0, 0)) {
		return 0
	}
	return uint64(f.Start.UnixNano())
}

// Get returns the record with the id from whichever node holds it.
func (c *Cluster) Get(ctx context.Context, id string) (*sdk.Record, error) {
	var rec *sdk.Record
	err := c.findOne(ctx, "record "+strconv.Quote(id), pathRecord+url.PathEscape(id), func(r *http.Response) error {
		kind, p, err := newFrameReader(r.Body).next()
		if err != nil {
			return err
		}
		if kind != frameRecord {
			return fmt.Errorf("a frame of kind %q, not a record", kind)
		}
		rec, err = storage.DecodeRecord(p)
		return err
	})
	return rec, err
}

// Flow returns the flow with the id from whichever node holds it.
func (c *Cluster) Flow(ctx context.Context, id string) (*sdk.Flow, error) {
	var f *sdk.Flow
	err := c.findOne(ctx, "flow "+strconv.Quote(id), pathFlow+url.PathEscape(id), func(r *http.Response) error {
		f = new(sdk.Flow)
		return json.NewDecoder(r.Body).Decode(f)
	})
	return f, err
}

// findOne asks every node for one item; the first that has it answers. Not
// found everywhere is storage.ErrNotFound, saying which nodes could not be
// asked.
func (c *Cluster) findOne(ctx context.Context, what, path string, read func(*http.Response) error) error {
	ws, err := c.workers(ctx)
	if err != nil {
		return err
	}
	rep := reportOf(ctx)
	var mu sync.Mutex
	found := false
	errs := c.each(ctx, ws, func(ctx context.Context, _ int, w Worker) error {
		ctx, cancel := context.WithTimeout(ctx, c.opts.NodeTimeout)
		defer cancel()
		resp, err := c.do(ctx, w, http.MethodGet, path, nil)
		if errors.Is(err, storage.ErrNotFound) {
			rep.answered(w.Node, 0)
			return err
		}
		if err != nil {
			err = w.wrap(err)
			c.nodeFailed(rep, w.Node, err)
			return err
		}
		defer resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		if found {
			rep.answered(w.Node, 0)
			return nil
		}
		if err := read(resp); err != nil {
			err = w.wrap(fmt.Errorf("reading %s: %w", what, err))
			c.nodeFailed(rep, w.Node, err)
			return err
		}
		found = true
		rep.answered(w.Node, 1)
		return nil
	})
	if found {
		return nil
	}
	var down []string
	for i, e := range errs {
		if !errors.Is(e, storage.ErrNotFound) {
			down = append(down, ws[i].Node)
		}
	}
	if len(down) == len(ws) {
		return allFailed(what, ws, errs)
	}
	if len(down) > 0 {
		return fmt.Errorf("fanout: %s: %w on the %d of %d nodes that answered; not asked: %s did not answer",
			what, storage.ErrNotFound, len(ws)-len(down), len(ws), strings.Join(down, ", "))
	}
	return fmt.Errorf("fanout: %s: %w on any of the %d nodes", what, storage.ErrNotFound, len(ws))
}

// summaries asks every node for its summary; nodes that fail are reported
// and left out.
func (c *Cluster) summaries(ctx context.Context) ([]summaryResponse, error) {
	return c.summariesOf(ctx, pathSummary)
}

// summariesOf asks path, the summary or only the bounds.
func (c *Cluster) summariesOf(ctx context.Context, path string) ([]summaryResponse, error) {
	ws, err := c.workers(ctx)
	if err != nil {
		return nil, err
	}
	rep := reportOf(ctx)
	sums := make([]summaryResponse, len(ws))
	errs := c.each(ctx, ws, func(ctx context.Context, i int, w Worker) error {
		if err := c.getJSON(ctx, w, http.MethodGet, path, nil, &sums[i]); err != nil {
			err = w.wrap(err)
			c.nodeFailed(rep, w.Node, err)
			return err
		}
		rep.answered(w.Node, 0)
		return nil
	})
	var out []summaryResponse
	for i, e := range errs {
		if e == nil {
			out = append(out, sums[i])
		}
	}
	if len(out) == 0 {
		return nil, allFailed("summary", ws, errs)
	}
	return out, nil
}

// Summary adds up the workers' summaries.
func (c *Cluster) Summary(ctx context.Context) (storage.Summary, error) {
	sums, err := c.summaries(ctx)
	if err != nil {
		return storage.Summary{}, err
	}
	out := storage.Summary{ByProtocol: map[string]int{}}
	for _, s := range sums {
		out.Total += s.Total
		out.Failed += s.Failed
		for p, n := range s.ByProtocol {
			out.ByProtocol[p] += n
		}
		out.First, out.Last = widen(out.First, out.Last, s.First, s.Last)
	}
	return out, nil
}

// widen extends [first, last] to cover [f, l]; zero times are empty.
func widen(first, last, f, l time.Time) (time.Time, time.Time) {
	if !f.IsZero() && (first.IsZero() || f.Before(first)) {
		first = f
	}
	if l.After(last) {
		last = l
	}
	return first, last
}

// NodeSummary is one node's part of the cluster's Summary.
type NodeSummary struct {
	Node string
	storage.Summary
}

// NodeSummaries returns the summary of every node that answered, by node.
func (c *Cluster) NodeSummaries(ctx context.Context) ([]NodeSummary, error) {
	sums, err := c.summaries(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]NodeSummary, len(sums))
	for i, s := range sums {
		out[i] = NodeSummary{Node: s.Node, Summary: storage.Summary{Total: s.Total, ByProtocol: s.ByProtocol, Failed: s.Failed, First: s.First, Last: s.Last}}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

// Bounds returns the oldest and newest record times across the workers.
func (c *Cluster) Bounds(ctx context.Context) (first, last time.Time, err error) {
	// Only the bounds: two seeks on each node, where a summary counts
	// every record.
	sums, err := c.summariesOf(ctx, pathSummary+"?only=bounds")
	if err != nil {
		return first, last, err
	}
	for _, s := range sums {
		first, last = widen(first, last, s.First, s.Last)
	}
	return first, last, nil
}

// FlowBounds combines the workers' flow bounds and counts.
func (c *Cluster) FlowBounds(ctx context.Context) (first, last time.Time, count int, err error) {
	sums, err := c.summaries(ctx)
	if err != nil {
		return first, last, 0, err
	}
	for _, s := range sums {
		first, last = widen(first, last, s.FlowFirst, s.FlowLast)
		count += s.FlowCount
	}
	return first, last, count, nil
}

// DisabledDissectors is every dissector disabled on some node.
func (c *Cluster) DisabledDissectors(ctx context.Context) ([]string, error) {
	sums, err := c.summaries(ctx)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, s := range sums {
		for _, n := range s.Disabled {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// SetDisabledDissectors sets the list on every node. It fails when any
// node did not take it, naming them: a change applied on some nodes only
// must not look done.
func (c *Cluster) SetDisabledDissectors(ctx context.Context, names []string) error {
	ws, err := c.workers(ctx)
	if err != nil {
		return err
	}
	rep := reportOf(ctx)
	errs := c.each(ctx, ws, func(ctx context.Context, _ int, w Worker) error {
		if err := c.getJSON(ctx, w, http.MethodPut, pathDisabled, disabledRequest{Names: names}, nil); err != nil {
			err = w.wrap(err)
			c.nodeFailed(rep, w.Node, err)
			return err
		}
		rep.answered(w.Node, 0)
		return nil
	})
	var bad []string
	for i, e := range errs {
		if e != nil {
			bad = append(bad, ws[i].Node+": "+e.Error())
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("fanout: disabled dissectors set on %d of %d nodes; not on %s", len(ws)-len(bad), len(ws), strings.Join(bad, "; "))
	}
	return nil
}

// MinuteEpochs combines the workers' epochs of each minute into one: a
// hash of every node's epoch for it, so that a change on any node (or a
// node joining or leaving) changes the minute's epoch and makes the
// rollups cached for it stale.
func (c *Cluster) MinuteEpochs(ctx context.Context, from, to time.Time) (map[int64]uint64, error) {
	ws, err := c.workers(ctx)
	if err != nil {
		return nil, err
	}
	rep := reportOf(ctx)
	got := make([]epochsResponse, len(ws))
	errs := c.each(ctx, ws, func(ctx context.Context, i int, w Worker) error {
		if err := c.getJSON(ctx, w, http.MethodPost, pathEpochs, epochsRequest{From: from, To: to}, &got[i]); err != nil {
			err = w.wrap(err)
			c.nodeFailed(rep, w.Node, err)
			return err
		}
		rep.answered(w.Node, 0)
		return nil
	})
	per := map[int64][]string{}
	ok := 0
	for i, e := range errs {
		if e != nil {
			continue
		}
		ok++
		for k, ep := range got[i].Epochs {
			m, err := strconv.ParseInt(k, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("fanout: node %s sent minute %q", ws[i].Node, k)
			}
			per[m] = append(per[m], ws[i].Node+"\x00"+strconv.FormatUint(ep, 10))
		}
	}
	if ok == 0 {
		return nil, allFailed("minute epochs", ws, errs)
	}
	out := make(map[int64]uint64, len(per))
	for m, parts := range per {
		sort.Strings(parts)
		h := fnv.New64a()
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0xff})
		}
		out[m] = h.Sum64() | 1 // never 0, which means "not cacheable"
	}
	return out, nil
}

// GetDerived reads the hub's cache of values derived from merged minutes.
func (c *Cluster) GetDerived(ctx context.Context, name string, minute int64) (uint64, []byte, error) {
	epoch, val, ok := c.derived.get(name, minute)
	if !ok {
		return 0, nil, fmt.Errorf("fanout: derived %q of minute %d: %w", name, minute, storage.ErrNotFound)
	}
	return epoch, val, nil
}

// PutDerived caches a value derived from a merged minute. Nothing is
// cached while a node of the current call has failed: the value would be
// that of the nodes that answered, under an epoch that includes the
// missing one.
func (c *Cluster) PutDerived(ctx context.Context, name string, minute int64, epoch uint64, val []byte) (bool, error) {
	if epoch == 0 || reportOf(ctx).anyFailed() {
		return false, nil
	}
	c.derived.put(name, minute, epoch, val)
	return true, nil
}

// isID reports whether s has the form of a record id: 26 Crockford base32
// digits, the first at most 7.
func isID(s string) bool {
	if len(s) != 26 || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyzoOiIlL", rune(s[i])) {
			return false
		}
	}
	return true
}
