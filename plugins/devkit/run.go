package devkit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Result is what a module made of some captures.
type Result struct {
	// Manifest is what the module said about itself.
	Manifest sdk.Manifest
	// Records in capture order (by time, then by path for ties).
	Records []*sdk.Record
	// Health is the module's fault record after the run: a plugin that
	// trapped or broke a limit shows it here.
	Health engine.Health
	// Stats of each capture, in the order given.
	Stats []pipeline.Stats
}

// collector is the pipeline's sink: it keeps every record.
type collector struct {
	mu   sync.Mutex
	recs []*sdk.Record
}

func (c *collector) Put(_ context.Context, recs []*sdk.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, recs...)
	return nil
}

// Run loads code (source names it in errors) in the sandbox with the
// host's default limits and runs it alone on each capture, as `kubeshark
// import --dissector` would, without a store.
func Run(ctx context.Context, source string, code []byte, captures ...string) (*Result, error) {
	rt, err := wasm.NewRuntime(ctx, wasm.Config{})
	if err != nil {
		return nil, err
	}
	defer rt.Close(context.Background())
	m, err := rt.Load(ctx, source, code)
	if err != nil {
		return nil, err
	}
	res := &Result{Manifest: m.Manifest()}
	var out collector
	for _, path := range captures {
		src, err := capture.OpenFile(path)
		if err != nil {
			return nil, err
		}
		// One worker: the order of records within a connection is the
		// guest's, and across connections the sort below decides.
		p := pipeline.New(pipeline.Config{Workers: 1}, []engine.Dissector{m}, &out)
		st, err := p.Run(ctx, src)
		src.Close()
		if err != nil {
			return nil, fmt.Errorf("running %s on %s: %w", source, path, err)
		}
		res.Stats = append(res.Stats, st)
	}
	res.Records = out.recs
	slices.SortStableFunc(res.Records, func(a, b *sdk.Record) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
	res.Health = m.Health()
	return res, nil
}
