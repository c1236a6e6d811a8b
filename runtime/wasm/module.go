package wasm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"

	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm/internal/interrupt"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

var requiredExports = []string{
	sdk.ExportInit, sdk.ExportDescribe, sdk.ExportProbe, sdk.ExportOpen,
	sdk.ExportFeed, sdk.ExportGap, sdk.ExportClose,
}

// Module is a compiled dissector module. It implements engine.Dissector.
type Module struct {
	r        *Runtime
	compiled wazero.CompiledModule
	source   string
	manifest sdk.Manifest

	mu     sync.Mutex
	health engine.Health
}

// Load compiles a module, checks its ABI and reads its manifest. source
// names it in errors and listings ("built-in" or a path).
func (r *Runtime) Load(ctx context.Context, source string, code []byte) (*Module, error) {
	code, err := interrupt.Instrument(code)
	if err != nil {
		return nil, fmt.Errorf("%w %s: not a valid WebAssembly module: %w", ErrLoad, source, err)
	}
	compiled, err := r.rt.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("%w %s: not a valid WebAssembly module: %w", ErrLoad, source, err)
	}
	if err := checkABI(compiled); err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("%w %s: %w", ErrLoad, source, err)
	}
	m := &Module{r: r, compiled: compiled, source: source}
	in, err := m.instantiate(ctx, nil)
	if err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("%w %s: %w", ErrLoad, source, err)
	}
	defer in.Destroy(ctx)
	raw, err := in.describe()
	if err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("%w %s: describe: %w", ErrLoad, source, err)
	}
	if err := json.Unmarshal(raw, &m.manifest); err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("%w %s: manifest is not valid JSON: %w", ErrLoad, source, err)
	}
	if err := validateManifest(m.manifest); err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("%w %s: %w", ErrLoad, source, err)
	}
	return m, nil
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
// once the module has faulted too often.
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
	in, err := m.instantiate(ctx, sink)
	if err != nil {
		m.fault(err)
		return nil, err
	}
	return in, nil
}

// Close releases the compiled module.
func (m *Module) Close(ctx context.Context) error { return m.compiled.Close(ctx) }
