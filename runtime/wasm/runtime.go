package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// ErrABI is wrapped by load errors for modules that do not speak the host's
// ABI version.
var ErrABI = errors.New("dissector ABI mismatch")

// ErrLoad is wrapped by every other load error.
var ErrLoad = errors.New("cannot load dissector")

// Config tunes the runtime. The zero value is usable.
type Config struct {
	// CacheDir keeps compiled modules, their instrumented bytes and their
	// manifests between runs, keyed by the module's digest and wazero's
	// version; processes may share it. Empty means memory only.
	CacheDir string
	// MemoryLimitMiB caps each instance's linear memory (default 256).
	MemoryLimitMiB int
	// CallTimeout bounds one call into a guest (default 2s).
	CallTimeout time.Duration
	// BufferSize is the stream buffer each instance registers (default 256 KiB).
	BufferSize int
	// MaxRecordsPerCall bounds what one call may emit (default 10000).
	MaxRecordsPerCall int
	// MaxRecordBytes bounds one encoded record (default 4 MiB).
	MaxRecordBytes int
	// QuarantineAfter is how many faults make a module quarantined (default 5).
	QuarantineAfter int
	// Interpreter forces wazero's interpreter instead of its compiler.
	Interpreter bool
	Logger      *slog.Logger
}

func (c *Config) defaults() {
	if c.MemoryLimitMiB <= 0 {
		c.MemoryLimitMiB = 256
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 2 * time.Second
	}
	if c.BufferSize <= 0 {
		c.BufferSize = 256 << 10
	}
	if c.MaxRecordsPerCall <= 0 {
		c.MaxRecordsPerCall = 10000
	}
	if c.MaxRecordBytes <= 0 {
		c.MaxRecordBytes = 4 << 20
	}
	if c.QuarantineAfter <= 0 {
		c.QuarantineAfter = 5
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Runtime compiles and hosts dissector modules. One per process.
type Runtime struct {
	cfg   Config
	rt    wazero.Runtime
	cache wazero.CompilationCache

	modules moduleCache

	mu         sync.Mutex
	instances  map[*instance]struct{}
	loaded     []*Module
	prefetched map[string]bool
	prefetches sync.WaitGroup
	stop       chan struct{}
	done       chan struct{}
}

// NewRuntime starts a runtime with the host imports of ABI v1.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg.defaults()
	var rc wazero.RuntimeConfig
	if cfg.Interpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	} else {
		rc = wazero.NewRuntimeConfig()
	}
	// Guests are stopped by the interrupt flag every module is instrumented
	// with (internal/interrupt), not by wazero's own context check, which
	// made Go guests 4× slower. The interpreter reads globals from Go, so
	// the flag would be a data race there: it keeps wazero's check.
	rc = rc.WithCloseOnContextDone(cfg.Interpreter).
		WithMemoryLimitPages(uint32(cfg.MemoryLimitMiB) * 16)
	r := &Runtime{cfg: cfg, instances: make(map[*instance]struct{}), prefetched: make(map[string]bool), stop: make(chan struct{}), done: make(chan struct{})}
	r.modules = newModuleCache(cfg.CacheDir)
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("wasm compilation cache %s: %w", cfg.CacheDir, err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm compilation cache %s: %w", cfg.CacheDir, err)
		}
		r.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		r.rt.Close(ctx)
		return nil, fmt.Errorf("wasi: %w", err)
	}
	_, err := r.rt.NewHostModuleBuilder(sdk.ImportModule).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostRegisterBuffer), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil).Export(sdk.ImportRegisterBuffer).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostEmit), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, nil).Export(sdk.ImportEmit).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostInflate), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).Export(sdk.ImportInflate).
		Instantiate(ctx)
	if err != nil {
		r.rt.Close(ctx)
		return nil, fmt.Errorf("host module: %w", err)
	}
	go r.watchdog()
	return r, nil
}

// Close stops every instance and the runtime.
func (r *Runtime) Close(ctx context.Context) error {
	close(r.stop)
	r.prefetches.Wait()
	<-r.done
	err := r.rt.Close(ctx)
	if r.cache != nil {
		r.cache.Close(ctx)
	}
	return err
}

// watchdog stops calls that run past their deadline. One timer for all
// instances is far cheaper than a context.WithTimeout per call, and a
// guest's calls are microseconds long, so a coarse tick is precise enough:
// a call is timed from the first tick that sees it running, so it is
// stopped between its deadline and two ticks (a quarter of it) later.
func (r *Runtime) watchdog() {
	defer close(r.done)
	tick := time.NewTicker(max(r.cfg.CallTimeout/8, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-tick.C:
			r.mu.Lock()
			for in := range r.instances {
				switch seq := in.calls.Load(); {
				case seq%2 == 0:
					// Not in a call.
				case seq != in.watchSeq:
					in.watchSeq, in.watchSince = seq, now.UnixNano()
				case now.UnixNano()-in.watchSince >= int64(r.cfg.CallTimeout):
					in.interrupt()
				}
			}
			r.mu.Unlock()
		}
	}
}

// prefetch compiles, in the background and on every core, the modules
// that probe the given transport: the first stream of that transport is
// about to probe them all, one after the other (all but those with a
// prefilter, which the stream is likely to rule out).
func (r *Runtime) prefetch(ctx context.Context, transport string) {
	r.mu.Lock()
	if r.prefetched[transport] {
		r.mu.Unlock()
		return
	}
	r.prefetched[transport] = true
	var todo []*Module
	for _, m := range r.loaded {
		// A module with a prefilter compiles only when it passes, which
		// most traffic never does.
		if m.manifest.HasTransport(transport) && m.prefilter == nil {
			todo = append(todo, m)
		}
	}
	r.mu.Unlock()
	next := make(chan *Module, len(todo))
	for _, m := range todo {
		next <- m
	}
	close(next)
	ctx = context.WithoutCancel(ctx)
	for range min(runtime.GOMAXPROCS(0), len(todo)) {
		r.prefetches.Go(func() {
			for m := range next {
				select {
				case <-r.stop:
					return
				default:
				}
				m.compile(ctx)
			}
		})
	}
}

func (r *Runtime) register(m *Module) {
	r.mu.Lock()
	r.loaded = append(r.loaded, m)
	r.mu.Unlock()
}

func (r *Runtime) track(in *instance) {
	r.mu.Lock()
	r.instances[in] = struct{}{}
	r.mu.Unlock()
}

func (r *Runtime) untrack(in *instance) {
	r.mu.Lock()
	delete(r.instances, in)
	r.mu.Unlock()
}

func (r *Runtime) moduleConfig() wazero.ModuleConfig {
	// No WithFS, WithEnv, WithArgs or listeners: the guest sees no files,
	// no environment and no network. Output goes nowhere. No start
	// functions either: instantiate calls _initialize itself, once it
	// holds the instance's interrupt flag.
	return wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithSysNanotime().
		WithSysWalltime().
		WithRandSource(rand.Reader)
}
