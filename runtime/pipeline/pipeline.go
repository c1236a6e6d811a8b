package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/decode"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/runtime/reassembly"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Sink stores what the pipeline produces. storage.Store implements it.
type Sink interface {
	Put(ctx context.Context, recs []*sdk.Record) error
}

// EncodedFieldsSink is implemented by sinks that take records whose
// messages may keep their fields as the guest encoded them
// (sdk.Message.EncodedFields) when TakesEncodedFields is true: a store
// that keeps the text as it is. Other sinks get decoded Fields maps.
type EncodedFieldsSink interface {
	TakesEncodedFields() bool
}

// FlowSink is implemented by sinks that also store L4 flows.
type FlowSink interface {
	PutFlows(ctx context.Context, flows []*sdk.Flow) error
}

// Config tunes a pipeline. The zero value is usable.
type Config struct {
	// Workers is the number of shards (default: GOMAXPROCS).
	Workers int
	// Reassembly limits; zero fields take the reassembler's defaults.
	Reassembly reassembly.Config
	// ProbeLimit is how many bytes of a stream detection may look at before
	// giving up (default 16 KiB).
	ProbeLimit int
	// MinConfidence a probe must reach to claim a stream (default 50).
	MinConfidence uint8
	// BufferSize must match the engine's guest buffer (default 256 KiB).
	BufferSize int
	// DecodeAs pins ports to dissectors, as tshark's decode-as: a stream
	// with either port in the map goes to the dissector of that name (or
	// protocol) without probing, while that dissector is loaded. The side
	// with the pinned port is the server.
	DecodeAs map[uint16]string
	// BatchSize is how many records, or flows, go to the sink at once
	// (default 1000).
	BatchSize int
	// NewID makes a record id from the record's time and 64 bits that
	// identify it within its capture (its stream and its place there), so
	// that importing the same capture twice stores each record once. Nil
	// leaves ids to the sink.
	NewID  func(ts time.Time, unique uint64) string
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.ProbeLimit <= 0 {
		c.ProbeLimit = 16 << 10
	}
	if c.MinConfidence == 0 {
		c.MinConfidence = 50
	}
	if c.BufferSize <= 0 {
		c.BufferSize = 256 << 10
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Pipeline turns packets into stored records and, when the sink is a
// FlowSink, the L4 flows that carried them.
type Pipeline struct {
	cfg Config
	// set is the dissector set new streams are probed against; workers
	// compare its generation on each new stream and swap theirs, so a
	// set changed while a run goes on (a plugin installed into a running
	// tap) takes effect without a restart.
	set atomic.Pointer[dissectorSet]
	// decodeAs is Config.DecodeAs, replaceable while running
	// (SetDecodeAs).
	decodeAs atomic.Pointer[map[uint16]string]
	// seen is every dissector any set held, for the run's fault counts.
	seenMu sync.Mutex
	seen   []engine.Dissector
	sink   Sink
	// encodedFields: the sink takes records with encoded fields, and so
	// do the workers from the instances (engine.EncodedFieldsSink).
	encodedFields bool
	// flows is the sink as a FlowSink, nil when it stores no flows; the
	// workers then do not track them.
	flows FlowSink
	// plain holds the connections RunPlaintext receives.
	plain           plainSet
	streams, stored atomic.Int64
}

// Progress is what a run has done so far, readable while it runs (a live
// capture's status line).
type Progress struct {
	// Streams is the connections and UDP flows opened.
	Streams int64
	// Records is the records stored.
	Records int64
}

// Progress may be called from any goroutine while Run runs.
func (p *Pipeline) Progress() Progress {
	return Progress{Streams: p.streams.Load(), Records: p.stored.Load()}
}

// dissectorSet is one generation of the pipeline's dissectors.
type dissectorSet struct {
	gen uint64
	ds  []engine.Dissector
}

// New makes a pipeline over the given dissectors, which are probed in order.
func New(cfg Config, dissectors []engine.Dissector, sink Sink) *Pipeline {
	cfg.defaults()
	fs, _ := sink.(FlowSink)
	p := &Pipeline{cfg: cfg, sink: sink, flows: fs}
	if es, ok := sink.(EncodedFieldsSink); ok {
		p.encodedFields = es.TakesEncodedFields()
	}
	p.SetDissectors(dissectors)
	p.SetDecodeAs(cfg.DecodeAs)
	return p
}

// SetDecodeAs replaces the port pins (see Config.DecodeAs), also while the
// pipeline runs: streams detected afterwards follow the new pins.
func (p *Pipeline) SetDecodeAs(m map[uint16]string) {
	m = maps.Clone(m)
	p.decodeAs.Store(&m)
}

// SetDissectors replaces the dissectors, also while Run or RunPlaintext
// runs: each stream opened afterwards is probed against the new set, and
// streams already claimed finish with the dissector that claimed them,
// whose instance is released when its last stream ends. Dissectors kept
// from the previous set keep their instances. It may be called from any
// goroutine.
func (p *Pipeline) SetDissectors(ds []engine.Dissector) {
	ds = slices.Clone(ds)
	p.seenMu.Lock()
	for _, d := range ds {
		if !slices.Contains(p.seen, d) {
			p.seen = append(p.seen, d)
		}
	}
	var gen uint64
	if old := p.set.Load(); old != nil {
		gen = old.gen + 1
	}
	p.set.Store(&dissectorSet{gen: gen, ds: ds})
	p.seenMu.Unlock()
}

// Dissectors returns the current set.
func (p *Pipeline) Dissectors() []engine.Dissector {
	return slices.Clone(p.set.Load().ds)
}

// output is one delivery from a worker to the sink goroutine. A flow is
// built when its connection closes, after its last record, so storing the
// records of a delivery before its flows keeps every flow after its records.
type output struct {
	recs  []*sdk.Record
	flows []*sdk.Flow
}

// segBatch carries segments from the reader to one worker. Payloads are
// copied into one arena per batch, since the decoder reuses its buffers.
type segBatch struct {
	segs  []packet.Segment
	arena []byte
	// tick, set on a batch without segments, is the time of a live
	// source's idle moment: the worker flushes what it holds.
	tick time.Time
}

const batchSegs = 128

// arenaBytes is the room a batch's arena takes at once for a payload of
// bigPayload bytes or more: a batch is sealed past 1 MiB of payload, so
// this holds it with its last (a 64 KiB GSO packet's) payload.
const (
	arenaBytes = 1<<20 + 64<<10
	bigPayload = 16 << 10
)

// Run reads src to the end (or until ctx is done), and returns what it did.
// A truncated capture still flushes and stores everything read before the
// damage; the error is returned alongside the stats.
func (p *Pipeline) Run(ctx context.Context, src capture.Source) (Stats, error) {
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	out := make(chan output, p.cfg.Workers*2)
	var sinkErr error
	sinkDone := make(chan struct{})
	go func() {
		defer close(sinkDone)
		for o := range out {
			if sinkErr == nil {
				sinkErr = p.store(ctx, o)
				if sinkErr != nil {
					cancel(sinkErr)
				}
			}
		}
	}()

	workers := make([]*worker, p.cfg.Workers)
	var wg sync.WaitGroup
	for i := range workers {
		w, err := p.newWorker(ctx, i, out)
		if err != nil {
			for _, w := range workers[:i] {
				close(w.in)
			}
			close(out)
			<-sinkDone
			return Stats{}, err
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}

	var st Stats
	dec := decode.New(decode.Options{})
	batches := make([]*segBatch, len(workers))
	pool := sync.Pool{New: func() any { return &segBatch{segs: make([]packet.Segment, 0, batchSegs)} }}
	for i := range workers {
		workers[i].pool = &pool
	}
	send := func(i int) {
		if b := batches[i]; b != nil && len(b.segs) > 0 {
			workers[i].in <- b
			batches[i] = nil
		}
	}
	bal := newBalancer(len(workers), 2*p.longestIdle())
	var readErr error
	var seg packet.Segment
	for {
		if ctx.Err() != nil {
			readErr = context.Cause(ctx)
			break
		}
		pkt, err := src.Next(ctx)
		if errors.Is(err, capture.ErrIdle) {
			// A live source has nothing for now: pass every batch on and
			// tell each worker the time, so it stores the records it
			// holds and closes idle flows as a file's later packets would.
			for i := range workers {
				if batches[i] != nil {
					seal(batches[i])
				}
				send(i)
				b := pool.Get().(*segBatch)
				b.segs, b.arena = b.segs[:0], b.arena[:0]
				b.tick = pkt.Timestamp
				workers[i].in <- b
			}
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		st.Packets++
		st.Bytes += int64(pkt.Length)
		ok, err := dec.Decode(pkt, &seg)
		if err != nil || !ok {
			continue
		}
		i := bal.worker(&seg)
		b := batches[i]
		if b == nil {
			b = pool.Get().(*segBatch)
			b.segs, b.arena = b.segs[:0], b.arena[:0]
			batches[i] = b
		}
		// Keep the payload as an offset into the arena until the batch is
		// sealed: the arena may still move as it grows.
		off := len(b.arena)
		if n := len(seg.Payload); n > cap(b.arena)-off {
			// Large payloads (live capture's GSO packets) get room for a
			// whole batch at once: grown payload by payload, their arena
			// was copied over and over (growslice at a tenth of tap's
			// CPU with 64 KiB bodies). Small ones grow as append would,
			// so batches of small packets stay small.
			want := max(2*cap(b.arena), off+n)
			if n >= bigPayload {
				want = max(want, arenaBytes)
			}
			b.arena = slices.Grow(b.arena, want-off)
		}
		b.arena = append(b.arena, seg.Payload...)
		s := seg
		s.Payload = nil
		b.segs = append(b.segs, s)
		b.segs[len(b.segs)-1].Payload = b.arena[off:len(b.arena):len(b.arena)]
		if len(b.segs) == batchSegs || len(b.arena) > 1<<20 {
			seal(b)
			send(i)
		}
	}
	for i := range workers {
		if batches[i] != nil {
			seal(batches[i])
		}
		send(i)
		close(workers[i].in)
	}
	wg.Wait()
	close(out)
	<-sinkDone

	for _, w := range workers {
		st.add(&w.stats)
		st.Reassembly = addReassembly(st.Reassembly, w.asm.Stats())
	}
	st.Decode = dec.Stats()
	p.seenMu.Lock()
	seen := slices.Clone(p.seen)
	p.seenMu.Unlock()
	for _, d := range seen {
		if h := d.Health(); h.Faults > 0 {
			if st.Faults == nil {
				st.Faults = map[string]int64{}
			}
			st.Faults[d.Manifest().Name] = int64(h.Faults)
		}
	}
	st.Elapsed = time.Since(start)
	if sinkErr != nil {
		return st, sinkErr
	}
	return st, readErr
}

// store hands one delivery to the sink, records first.
func (p *Pipeline) store(ctx context.Context, o output) error {
	if len(o.recs) > 0 {
		if err := p.sink.Put(ctx, o.recs); err != nil {
			return fmt.Errorf("storing %d records: %w", len(o.recs), err)
		}
		p.stored.Add(int64(len(o.recs)))
	}
	if len(o.flows) > 0 && p.flows != nil {
		if err := p.flows.PutFlows(ctx, o.flows); err != nil {
			return fmt.Errorf("storing %d flows: %w", len(o.flows), err)
		}
	}
	return nil
}

// seal re-points every payload at the arena's final backing array.
func seal(b *segBatch) {
	off := 0
	for i := range b.segs {
		n := len(b.segs[i].Payload)
		b.segs[i].Payload = b.arena[off : off+n : off+n]
		off += n
	}
}

// longestIdle is the longest a worker keeps an idle flow.
func (p *Pipeline) longestIdle() time.Duration {
	c := p.cfg.Reassembly.WithDefaults()
	return max(c.IdleTimeout, c.UDPIdleTimeout)
}
