package native

import (
	"context"

	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Dissector adapts an sdk.Dissector to engine.Dissector.
type Dissector struct {
	d sdk.Dissector
	m sdk.Manifest
}

// New wraps d.
func New(d sdk.Dissector) *Dissector { return &Dissector{d: d, m: d.Manifest()} }

// Manifest returns the wrapped dissector's manifest.
func (n *Dissector) Manifest() sdk.Manifest { return n.m }

// Source is "native".
func (n *Dissector) Source() string { return "native" }

// Health is always clean: a native dissector that panics takes the process
// down, which is why production dissectors run in WebAssembly.
func (n *Dissector) Health() engine.Health { return engine.Health{} }

// NewInstance returns an instance with its own connection table.
func (n *Dissector) NewInstance(_ context.Context, sink engine.Sink) (engine.Instance, error) {
	return &instance{d: n.d, sink: sink, conns: make(map[uint64]sdk.Conn)}, nil
}

type instance struct {
	d     sdk.Dissector
	sink  engine.Sink
	conns map[uint64]sdk.Conn
}

type emitter struct {
	sink engine.Sink
	id   uint64
}

func (e emitter) Emit(r *sdk.Record) {
	cp := *r
	e.sink.Record(e.id, &cp)
}
func (e emitter) Switch(hint string) { e.sink.Switch(e.id, hint) }

func (i *instance) Probe(_ context.Context, dir sdk.Direction, data []byte) (sdk.Probe, error) {
	return i.d.Probe(dir, data), nil
}

func (i *instance) Open(_ context.Context, info sdk.ConnInfo) error {
	i.conns[info.ID] = i.d.Open(info, emitter{i.sink, info.ID})
	return nil
}

func (i *instance) Feed(_ context.Context, id uint64, dir sdk.Direction, data []byte, first, last int64) (int, int, error) {
	c := i.conns[id]
	if c == nil {
		return -1, 0, nil
	}
	n, need := c.Feed(dir, data, first, last)
	return n, need, nil
}

func (i *instance) Gap(_ context.Context, id uint64, dir sdk.Direction, n int, ts int64) error {
	if c := i.conns[id]; c != nil {
		c.Gap(dir, n, ts)
	}
	return nil
}

func (i *instance) Close(_ context.Context, id uint64, ts int64) error {
	if c := i.conns[id]; c != nil {
		delete(i.conns, id)
		c.Close(ts)
	}
	return nil
}

func (i *instance) Destroy(context.Context) { i.conns = nil }
