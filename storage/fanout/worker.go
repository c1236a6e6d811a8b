package fanout

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// WorkerOptions configures a WorkerHandler.
type WorkerOptions struct {
	// Node names this worker in answers (the Kubernetes node name, or the
	// host name).
	Node string
	// Store gives the worker's store for one request and a function that
	// releases it: a fixed store, or a storage.Handle's Acquire. Required.
	Store func(ctx context.Context) (*storage.Store, func(), error)
	// Compile turns a KFL expression into a matcher with this worker's
	// dissector fields. Required to serve queries with a KFL filter.
	Compile func(expr string) (storage.Matcher, error)
	Logger  *slog.Logger
}

// FixedStore is WorkerOptions.Store for a store that stays open.
func FixedStore(st *storage.Store) func(context.Context) (*storage.Store, func(), error) {
	return func(context.Context) (*storage.Store, func(), error) { return st, func() {}, nil }
}

// streamPage is how many items a worker reads from its store at a time
// while streaming: the stream is what bounds memory, not the query.
const streamPage = 256

// WorkerHandler serves the worker protocol (wire.go) over one store.
// Authentication is the caller's (the hub mounts it behind its token).
func WorkerHandler(opts WorkerOptions) (http.Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("fanout: WorkerOptions.Store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w := &worker{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathRecords, w.records)
	mux.HandleFunc("POST "+pathFlows, w.flows)
	mux.HandleFunc("GET "+pathRecord+"{id}", answer(w, w.record))
	mux.HandleFunc("GET "+pathFlow+"{id}", answer(w, w.flow))
	mux.HandleFunc("GET "+pathSummary, answer(w, w.summary))
	mux.HandleFunc("POST "+pathEpochs, answer(w, w.epochs))
	mux.HandleFunc("PUT "+pathDisabled, answer(w, w.setDisabled))
	return mux, nil
}

type worker struct{ opts WorkerOptions }

func (wk *worker) fail(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(mustJSON(errorResponse{Error: err.Error()}))
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, storage.ErrBadCursor), errors.Is(err, storage.ErrBadID), errors.Is(err, storage.ErrBadFilter):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// decode reads a JSON request body of at most 1 MiB.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write(mustJSON(errorResponse{Error: "request body: " + err.Error()}))
		return false
	}
	return true
}

func (wk *worker) store(w http.ResponseWriter, r *http.Request) (*storage.Store, func(), bool) {
	st, release, err := wk.opts.Store(r.Context())
	if err != nil {
		wk.fail(w, http.StatusServiceUnavailable, fmt.Errorf("node %s: open the store: %w", wk.opts.Node, err))
		return nil, nil, false
	}
	return st, release, true
}

// query turns the wire request back into a storage.Query; a filter this
// worker cannot compile is the caller's error.
func (wk *worker) query(req recordsRequest) (storage.Query, error) {
	q := storage.Query{Since: req.Since, Until: req.Until, Newest: req.Newest, Cursor: req.Cursor,
		WithBodies: req.WithBodies, SizesOnly: req.SizesOnly}
	if req.Filter != "" {
		f, err := storage.ParseFilter(req.Filter)
		if err != nil {
			return q, err
		}
		q.Filter = f
	}
	if req.KFL != "" {
		if wk.opts.Compile == nil {
			return q, fmt.Errorf("%w: node %s takes no KFL filters", storage.ErrBadFilter, wk.opts.Node)
		}
		m, err := wk.opts.Compile(req.KFL)
		if err != nil {
			return q, err
		}
		q.Match = m
	}
	return q, nil
}

// stream writes frames as they come, flushing after each page of the
// store, so that the hub merges while the worker still reads.
type stream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf []byte
	n   int
}

func newStream(w http.ResponseWriter, node string) *stream {
	w.Header().Set("Content-Type", streamType)
	w.Header().Set("X-Kubeshark-Node", node)
	w.WriteHeader(http.StatusOK)
	return &stream{w: w, rc: http.NewResponseController(w)}
}

func (s *stream) frame(kind byte, payload []byte) error {
	s.buf = appendFrame(s.buf[:0], kind, payload)
	_, err := s.w.Write(s.buf)
	return err
}

func (s *stream) record(r *sdk.Record, scratch *[]byte) error {
	*scratch = storage.AppendRecord((*scratch)[:0], r)
	s.n++
	return s.frame(frameRecord, *scratch)
}

func (s *stream) flow(f *sdk.Flow) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	s.n++
	return s.frame(frameFlow, b)
}

// end closes a complete stream with its count.
func (s *stream) end() { s.frame(frameEnd, binary.AppendUvarint(nil, uint64(s.n))) }

// fail ends a stream that cannot go on, saying why.
func (s *stream) fail(msg string) { s.frame(frameError, []byte(msg)) }

func (s *stream) flush() error { return s.rc.Flush() }

func (wk *worker) records(w http.ResponseWriter, r *http.Request) {
	var req recordsRequest
	if !decode(w, r, &req) {
		return
	}
	q, err := wk.query(req)
	if err != nil {
		wk.fail(w, statusOf(err), fmt.Errorf("node %s: %w", wk.opts.Node, err))
		return
	}
	st, release, ok := wk.store(w, r)
	if !ok {
		return
	}
	defer release()
	ctx := r.Context()
	left := req.Limit // 0: every match
	q.Limit = streamPage
	// The first page is read before the status goes out, so that a bad
	// cursor is still a 400 rather than a stream that ends in an error.
	page, err := st.Query(ctx, q)
	if err != nil {
		wk.fail(w, statusOf(err), fmt.Errorf("node %s: %w", wk.opts.Node, err))
		return
	}
	s := newStream(w, wk.opts.Node)
	var scratch []byte
	for {
		for _, rec := range page.Records {
			if err := s.record(rec, &scratch); err != nil {
				return // the hub went away: nothing to tell it
			}
			if left > 0 && s.n == left {
				s.end()
				return
			}
		}
		if page.Next == "" {
			break
		}
		if err := s.flush(); err != nil {
			return
		}
		q.Cursor = page.Next
		if page, err = st.Query(ctx, q); err != nil {
			wk.opts.Logger.Warn("fanout worker: records stream", "node", wk.opts.Node, "err", err)
			s.fail(fmt.Sprintf("node %s: %v", wk.opts.Node, err))
			return
		}
	}
	s.end()
}

func (wk *worker) flows(w http.ResponseWriter, r *http.Request) {
	var req flowsRequest
	if !decode(w, r, &req) {
		return
	}
	st, release, ok := wk.store(w, r)
	if !ok {
		return
	}
	defer release()
	ctx := r.Context()
	q := storage.FlowQuery{Since: req.Since, Until: req.Until, Cursor: req.Cursor, Limit: streamPage}
	page, err := st.Flows(ctx, q)
	if err != nil {
		wk.fail(w, statusOf(err), fmt.Errorf("node %s: %w", wk.opts.Node, err))
		return
	}
	s := newStream(w, wk.opts.Node)
	for {
		for _, f := range page.Flows {
			if err := s.flow(f); err != nil {
				return
			}
		}
		if page.Next == "" {
			break
		}
		if err := s.flush(); err != nil {
			return
		}
		q.Cursor = page.Next
		if page, err = st.Flows(ctx, q); err != nil {
			s.fail(fmt.Sprintf("node %s: %v", wk.opts.Node, err))
			return
		}
	}
	s.end()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(mustJSON(v))
}

// noBody is the request of a route that reads no body (a GET).
type noBody struct{}

// recordFrame is an answer sent as one record frame rather than JSON.
type recordFrame []byte

// answer makes the handler of a route that answers once (not a stream):
// it decodes the JSON body into a Req (none for noBody), holds the store
// for the request, and writes what do returns — JSON, a recordFrame as
// itself, nil as 204 No Content — or do's error with statusOf's status.
func answer[Req any](wk *worker, do func(ctx context.Context, st *storage.Store, r *http.Request, req Req) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if _, none := any(req).(noBody); !none && !decode(w, r, &req) {
			return
		}
		st, release, ok := wk.store(w, r)
		if !ok {
			return
		}
		defer release()
		res, err := do(r.Context(), st, r, req)
		if err != nil {
			wk.fail(w, statusOf(err), err)
			return
		}
		switch v := res.(type) {
		case nil:
			w.WriteHeader(http.StatusNoContent)
		case recordFrame:
			w.Header().Set("Content-Type", streamType)
			w.Write(v)
		default:
			writeJSON(w, v)
		}
	}
}

func (wk *worker) record(ctx context.Context, st *storage.Store, r *http.Request, _ noBody) (any, error) {
	rec, err := st.Get(ctx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	// One record frame: JSON would lose its header order.
	return recordFrame(appendFrame(nil, frameRecord, storage.AppendRecord(nil, rec))), nil
}

func (wk *worker) flow(ctx context.Context, st *storage.Store, r *http.Request, _ noBody) (any, error) {
	f, err := st.Flow(ctx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (wk *worker) summary(ctx context.Context, st *storage.Store, r *http.Request, _ noBody) (any, error) {
	res := summaryResponse{Node: wk.opts.Node}
	var err error
	if r.URL.Query().Get("only") == "bounds" {
		if res.First, res.Last, err = st.Bounds(ctx); err != nil {
			return nil, err
		}
		return res, nil
	}
	sum, err := st.Summary(ctx)
	if err != nil {
		return nil, err
	}
	res.Total, res.ByProtocol, res.Failed, res.First, res.Last = sum.Total, sum.ByProtocol, sum.Failed, sum.First, sum.Last
	if res.FlowFirst, res.FlowLast, res.FlowCount, err = st.FlowBounds(ctx); err != nil {
		return nil, err
	}
	if res.Disabled, err = st.DisabledDissectors(ctx); err != nil {
		return nil, err
	}
	sort.Strings(res.Disabled)
	return res, nil
}

func (wk *worker) epochs(ctx context.Context, st *storage.Store, _ *http.Request, req epochsRequest) (any, error) {
	ep, err := st.MinuteEpochs(ctx, req.From, req.To)
	if err != nil {
		return nil, err
	}
	res := epochsResponse{Epochs: make(map[string]uint64, len(ep))}
	for m, e := range ep {
		res.Epochs[strconv.FormatInt(m, 10)] = e
	}
	return res, nil
}

func (wk *worker) setDisabled(ctx context.Context, st *storage.Store, _ *http.Request, req disabledRequest) (any, error) {
	return nil, st.SetDisabledDissectors(ctx, req.Names)
}
