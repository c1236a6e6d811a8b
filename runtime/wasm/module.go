package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm/internal/interrupt"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

var requiredExports = []string{
	sdk.ExportInit, sdk.ExportDescribe, sdk.ExportProbe, sdk.ExportOpen,
	sdk.ExportFeed, sdk.ExportGap, sdk.ExportClose,
}

// Module is a dissector module. It implements engine.Dissector.
//
// A module is compiled when it is first needed, not when it is loaded:
// with a cache directory its manifest comes from the cache, so a command
// pays for compiling (or reading the compiled code back) and starting only
// the dissectors the traffic calls for. Instances are lazy too: each
// worker's instance starts at its first connection, and until then probes
// go to one instance per module that all workers share (probing reads only
// the bytes it is shown).
type Module struct {
	r        *Runtime
	source   string
	manifest sdk.Manifest
	digest   [32]byte
	code     []byte // as given; dropped once compiled
	// read gives the code of a module loaded by LoadDescribedFunc, whose
	// digest is then taken when it first compiles.
	read func() ([]byte, error)
	// prefilter rules streams out without the module (LoadDescribed).
	prefilter func(sdk.Direction, []byte) sdk.Probe

	compileOnce sync.Once
	compiled    wazero.CompiledModule
	compileErr  error
	isCompiled  atomic.Bool // for tests, which may not race with compileOnce

	probeMu sync.Mutex
	prober  *instance

	mu     sync.Mutex
	health engine.Health
}

// Load checks a module, reads its manifest and returns it. source names it
// in errors and listings ("built-in" or a path). Without a cache entry for
// these exact bytes the module is compiled and started here, so that a bad
// module fails now; with one, compiling waits until the module is used.
func (r *Runtime) Load(ctx context.Context, source string, code []byte) (*Module, error) {
	m := &Module{r: r, source: source, code: code, digest: sha256.Sum256(code)}
	if raw, ok := r.modules.get(m.digest, manifestSuffix()); ok {
		if err := json.Unmarshal(raw, &m.manifest); err == nil && validateManifest(m.manifest) == nil {
			r.register(m)
			return m, nil
		}
		m.manifest = sdk.Manifest{}
	}
	if err := m.compile(ctx); err != nil {
		return nil, err
	}
	in, err := m.instantiate(ctx, nil)
	if err != nil {
		m.compiled.Close(ctx)
		return nil, fmt.Errorf("%w %s: %w", ErrLoad, source, err)
	}
	defer in.Destroy(ctx)
	raw, err := in.describe()
	if err != nil {
		m.compiled.Close(ctx)
		return nil, fmt.Errorf("%w %s: describe: %w", ErrLoad, source, err)
	}
	if err := json.Unmarshal(raw, &m.manifest); err != nil {
		m.compiled.Close(ctx)
		return nil, fmt.Errorf("%w %s: manifest is not valid JSON: %w", ErrLoad, source, err)
	}
	if err := validateManifest(m.manifest); err != nil {
		m.compiled.Close(ctx)
		return nil, fmt.Errorf("%w %s: %w", ErrLoad, source, err)
	}
	if err := r.modules.put(m.digest, manifestSuffix(), raw); err != nil {
		r.cfg.Logger.Warn("cannot cache a dissector manifest", "source", source, "err", err)
	}
	r.register(m)
	return m, nil
}

// LoadDescribed is Load for a module whose manifest the caller already
// knows from a source it trusts (a built-in's, compiled into the host from
// the module's own source): nothing is compiled or run until traffic needs
// the module, even with an empty cache. The manifest is checked as Load
// checks the module's; the module's code is checked (ABI included) when it
// first compiles, and a module that fails then is quarantined.
//
// prefilter, when not nil, is the module's probe compiled into the host
// from the same source. Where it answers no (confidence 0, nothing more
// wanted) the module is not asked, and so never compiled or started for
// traffic it cannot claim; any other answer, or a panic, goes to the
// module, whose answer alone counts. The host thus runs a built-in's probe
// on captured bytes outside the sandbox, but only to rule it out
// (RATIONALE.md).
func (r *Runtime) LoadDescribed(ctx context.Context, source string, code []byte, manifest sdk.Manifest, prefilter func(sdk.Direction, []byte) sdk.Probe) (*Module, error) {
	if err := validateManifest(manifest); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrLoad, source, err)
	}
	m := &Module{r: r, source: source, code: code, digest: sha256.Sum256(code), manifest: manifest, prefilter: prefilter}
	r.register(m)
	return m, nil
}

// LoadDescribedFunc is LoadDescribed with the code read by read, and its
// digest taken, only when the module first compiles: a built-in whose
// traffic never comes is never read at all. The built-ins are embedded in
// the executable, and reading all twelve (44 MB) to digest them copied
// them onto the heap and faulted their pages in, ~75 MB of an import's
// resident set for the one or two it compiles (BENCHMARKS.md). An error
// from read fails the module as a bad module does, when first used.
func (r *Runtime) LoadDescribedFunc(ctx context.Context, source string, read func() ([]byte, error), manifest sdk.Manifest, prefilter func(sdk.Direction, []byte) sdk.Probe) (*Module, error) {
	if err := validateManifest(manifest); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrLoad, source, err)
	}
	m := &Module{r: r, source: source, read: read, manifest: manifest, prefilter: prefilter}
	r.register(m)
	return m, nil
}

// compile instruments and compiles the module, once; later calls return
// the first call's error.
func (m *Module) compile(ctx context.Context) error {
	m.compileOnce.Do(func() {
		ctx := context.WithoutCancel(ctx)
		if m.read != nil {
			code, err := m.read()
			m.read = nil
			if err != nil {
				m.compileErr = fmt.Errorf("%w %s: %w", ErrLoad, m.source, err)
				return
			}
			m.code, m.digest = code, sha256.Sum256(code)
		}
		m.compiled, m.compileErr = m.r.compile(ctx, m.source, m.digest, m.code)
		m.code = nil
		m.isCompiled.Store(m.compiled != nil)
	})
	return m.compileErr
}

// ruledOut reports whether the prefilter says the module cannot claim a
// stream starting with data. A prefilter that panics rules nothing out.
func (m *Module) ruledOut(dir sdk.Direction, data []byte) (out bool) {
	if m.prefilter == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			out = false
		}
	}()
	p := m.prefilter(dir, data)
	return p.Confidence == 0 && !p.NeedMore
}

// use compiles the module before its first instance, and starts compiling
// the modules that the same traffic is about to probe.
func (m *Module) use(ctx context.Context) error {
	if len(m.manifest.Transports) == 1 {
		m.r.prefetch(ctx, m.manifest.Transports[0])
	}
	return m.compile(ctx)
}

func (r *Runtime) compile(ctx context.Context, source string, digest [32]byte, code []byte) (wazero.CompiledModule, error) {
	instrumented, ok := r.modules.instrumented(digest)
	if !ok {
		var err error
		if instrumented, err = interrupt.Instrument(code); err != nil {
			return nil, fmt.Errorf("%w %s: not a valid WebAssembly module: %w", ErrLoad, source, err)
		}
	}
	compiled, err := r.rt.CompileModule(experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0)), instrumented)
	if err != nil {
		return nil, fmt.Errorf("%w %s: not a valid WebAssembly module: %w", ErrLoad, source, err)
	}
	if err := checkABI(compiled); err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("%w %s: %w", ErrLoad, source, err)
	}
	if !ok {
		if err := r.modules.putInstrumented(digest, instrumented); err != nil {
			r.cfg.Logger.Warn("cannot cache an instrumented dissector", "source", source, "err", err)
		}
	}
	return compiled, nil
}

// checkABI runs before anything in the module executes: the marker export
// names the ABI version the module was built for.
func checkABI(c wazero.CompiledModule) error {
	exports := c.ExportedFunctions()
	if _, ok := exports[sdk.ExportABIMarker]; !ok {
		var other []string
		for name := range exports {
			if strings.HasPrefix(name, "kubeshark_abi_v") {
				other = append(other, strings.TrimPrefix(name, "kubeshark_abi_"))
			}
		}
		if len(other) > 0 {
			return fmt.Errorf("%w: module is built for ABI %s, this host speaks v%d", ErrABI, strings.Join(other, ", "), sdk.ABIVersion)
		}
		return fmt.Errorf("%w: module does not export %s; is it a kubeshark dissector?", ErrABI, sdk.ExportABIMarker)
	}
	for _, name := range requiredExports {
		if _, ok := exports[name]; !ok {
			return fmt.Errorf("%w: module lacks the %s export", ErrABI, name)
		}
	}
	return nil
}

func validateManifest(m sdk.Manifest) error {
	switch {
	case m.Name == "":
		return fmt.Errorf("manifest has no name")
	case m.Version == "":
		return fmt.Errorf("manifest of %q has no version", m.Name)
	case len(m.Protocols) == 0:
		return fmt.Errorf("manifest of %q lists no protocols", m.Name)
	case !m.HasTransport("tcp") && !m.HasTransport("udp"):
		return fmt.Errorf("manifest of %q lists neither tcp nor udp", m.Name)
	}
	return nil
}

// name is the manifest name once known, the source before.
func (m *Module) name() string {
	if m.manifest.Name != "" {
		return m.manifest.Name
	}
	return m.source
}

// Manifest returns what the module said about itself.
func (m *Module) Manifest() sdk.Manifest { return m.manifest }

// Source returns where the module came from.
func (m *Module) Source() string { return m.source }

// Health returns the module's fault record.
func (m *Module) Health() engine.Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.health
}

func (m *Module) fault(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.health.Faults++
	m.health.LastFault = err.Error()
	if m.health.Faults >= m.r.cfg.QuarantineAfter && !m.health.Quarantined {
		m.health.Quarantined = true
		m.r.cfg.Logger.Warn("dissector quarantined", "dissector", m.manifest.Name, "source", m.source, "faults", m.health.Faults, "last", err)
	}
}

// NewInstance makes a fresh instance; it fails with engine.ErrQuarantined
// once the module has faulted too often. The instance starts (and the
// module compiles) at its first call that needs its own state.
func (m *Module) NewInstance(ctx context.Context, sink engine.Sink) (engine.Instance, error) {
	m.mu.Lock()
	q := m.health.Quarantined
	if !q && m.health.Faults > 0 {
		m.health.Restarts++
	}
	m.mu.Unlock()
	if q {
		return nil, fmt.Errorf("%s: %w", m.manifest.Name, engine.ErrQuarantined)
	}
	return &lazyInstance{m: m, sink: sink}, nil
}

// start makes a running instance for sink, compiling the module first if
// need be. Failing to start is a fault like any other.
func (m *Module) start(ctx context.Context, sink engine.Sink) (*instance, error) {
	if m.Health().Quarantined {
		return nil, fmt.Errorf("%s: %w", m.manifest.Name, engine.ErrQuarantined)
	}
	if err := m.use(ctx); err != nil {
		// The code will not compile now any more than later: the module
		// is out for the rest of the run.
		err = fmt.Errorf("%s: %w: %w", m.manifest.Name, engine.ErrFault, err)
		m.mu.Lock()
		m.health.Faults++
		m.health.LastFault = err.Error()
		m.health.Quarantined = true
		m.mu.Unlock()
		return nil, err
	}
	in, err := m.instantiate(ctx, sink)
	if err != nil {
		err = fmt.Errorf("%s: %w: %w", m.manifest.Name, engine.ErrFault, err)
		m.fault(err)
		return nil, err
	}
	return in, nil
}

// probe runs a probe on the module's shared probing instance, starting it
// if need be.
func (m *Module) probe(ctx context.Context, dir sdk.Direction, data []byte) (sdk.Probe, error) {
	m.probeMu.Lock()
	defer m.probeMu.Unlock()
	if m.prober == nil || m.prober.dead != nil {
		in, err := m.start(ctx, nil)
		if err != nil {
			return sdk.Probe{}, err
		}
		m.prober = in
	}
	return m.prober.Probe(ctx, dir, data)
}

// Close releases the compiled module and the probing instance.
func (m *Module) Close(ctx context.Context) error {
	m.probeMu.Lock()
	if m.prober != nil {
		m.prober.Destroy(ctx)
		m.prober = nil
	}
	m.probeMu.Unlock()
	m.compileOnce.Do(func() { m.code, m.read = nil, nil })
	if m.compiled == nil {
		return nil
	}
	return m.compiled.Close(ctx)
}

// lazyInstance is what NewInstance returns: it probes through the module's
// shared instance until a connection is opened on it, and starts its own
// instance then.
type lazyInstance struct {
	m    *Module
	sink engine.Sink
	in   *instance
	dead error
}

func (l *lazyInstance) own(ctx context.Context) (*instance, error) {
	if l.in != nil {
		return l.in, nil
	}
	if l.dead != nil {
		return nil, l.dead
	}
	in, err := l.m.start(ctx, l.sink)
	if err != nil {
		l.dead = err
		return nil, err
	}
	l.in = in
	return in, nil
}

// Probe implements engine.Instance.
func (l *lazyInstance) Probe(ctx context.Context, dir sdk.Direction, data []byte) (sdk.Probe, error) {
	if l.m.ruledOut(dir, data) {
		return sdk.Probe{}, nil
	}
	if l.in != nil {
		return l.in.Probe(ctx, dir, data)
	}
	if l.dead != nil {
		return sdk.Probe{}, l.dead
	}
	return l.m.probe(ctx, dir, data)
}

// ProbeBound implements engine.ProbeBounder: the prefilter's answer,
// which is the module's probe compiled into the host from the same source
// (LoadDescribed); 100, the most any probe answers, without a prefilter or
// when it panics.
func (l *lazyInstance) ProbeBound(dir sdk.Direction, data []byte) (bound uint8) {
	if l.m.prefilter == nil {
		return 100
	}
	defer func() {
		if recover() != nil {
			bound = 100
		}
	}()
	return l.m.prefilter(dir, data).Confidence
}

// Open implements engine.Instance.
func (l *lazyInstance) Open(ctx context.Context, info sdk.ConnInfo) error {
	in, err := l.own(ctx)
	if err != nil {
		return err
	}
	return in.Open(ctx, info)
}

// Feed implements engine.Instance. An instance of its own, once started,
// is called directly: Feed runs twice per record.
func (l *lazyInstance) Feed(ctx context.Context, conn uint64, dir sdk.Direction, data []byte, first, last int64) (int, int, error) {
	if in := l.in; in != nil {
		return in.Feed(ctx, conn, dir, data, first, last)
	}
	in, err := l.own(ctx)
	if err != nil {
		return 0, 0, err
	}
	return in.Feed(ctx, conn, dir, data, first, last)
}

// Gap implements engine.Instance.
func (l *lazyInstance) Gap(ctx context.Context, conn uint64, dir sdk.Direction, n int, ts int64) error {
	in, err := l.own(ctx)
	if err != nil {
		return err
	}
	return in.Gap(ctx, conn, dir, n, ts)
}

// Close implements engine.Instance.
func (l *lazyInstance) Close(ctx context.Context, conn uint64, ts int64) error {
	in, err := l.own(ctx)
	if err != nil {
		return err
	}
	return in.Close(ctx, conn, ts)
}

// Destroy implements engine.Instance.
func (l *lazyInstance) Destroy(ctx context.Context) {
	if l.in != nil {
		l.in.Destroy(ctx)
		l.in = nil
	}
	if l.dead == nil {
		l.dead = errors.New("instance destroyed")
	}
}
