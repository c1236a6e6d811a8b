package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kubeshark-wasm/kubeshark/dissectors"
	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/runtime/pipeline"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// storeWait is how long a command waits for another kubeshark process
// (an import, an assistant's `kubeshark mcp`, a hub) to let go of the
// store; the servers release it after storeIdle without calls.
const (
	storeWait = 2 * time.Minute
	storeIdle = 5 * time.Second
)

func storeOptions(g *globals, opts storage.Options) storage.Options {
	opts.Dir = filepath.Join(g.dataDir, "store")
	opts.Logger = g.logger()
	opts.OnOpen = attachHistory(g)
	return opts
}

func openStore(ctx context.Context, g *globals, opts storage.Options) (*storage.Store, error) {
	dir := filepath.Join(g.dataDir, "store")
	st, err := storage.OpenWhenFree(ctx, storeOptions(g, opts), storeWait, func() {
		fmt.Fprintf(os.Stderr, "waiting for the store in %s: %s...\n", g.dataDir, holderText(dir))
	})
	if errors.Is(err, storage.ErrBusy) {
		return nil, fmt.Errorf("the store in %s is still in use after %s: %s", g.dataDir, storeWait, holderText(dir))
	}
	return st, err
}

// holderText says who holds the store, from the record its holder keeps
// beside it.
func holderText(dir string) string {
	h, ok := storage.ReadHolder(dir)
	if !ok {
		return "another kubeshark process is using it"
	}
	return fmt.Sprintf("`%s` (pid %d, since %s) is using it", h.Command, h.PID, h.Since.UTC().Format("15:04:05Z"))
}

// openExistingStore opens the store for reading, with a hint when there is
// nothing to read yet. A store that a first import is about to create is
// waited for, as a store in use is.
func openExistingStore(ctx context.Context, g *globals) (*storage.Store, error) {
	dir := filepath.Join(g.dataDir, "store")
	told := false
	deadline := time.Now().Add(storeWait)
	for {
		if _, err := os.Stat(dir); err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
		h, ok := storage.ReadHolder(dir)
		if !ok {
			return nil, fmt.Errorf("no store in %s yet: run `kubeshark import FILE` first (or pass --data)", g.dataDir)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the store in %s is still being created by `%s` (pid %d) after %s", g.dataDir, h.Command, h.PID, storeWait)
		}
		if !told {
			fmt.Fprintf(os.Stderr, "waiting for the store in %s: `%s` (pid %d) is creating it...\n", g.dataDir, h.Command, h.PID)
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return openStore(ctx, g, storage.Options{})
}

// loaded is the dissector set of one command run: mods, the current set,
// is the built-ins, then the enabled plugins, then the extra modules named
// on the command line. reload (reload.go) follows the plugin store.
type loaded struct {
	rt   *wasm.Runtime
	mods []*wasm.Module
	// nBuiltin and nExtra are the lengths of the built-in and extra parts
	// of mods.
	nBuiltin, nExtra int
	// plugins holds every plugin module loaded in this run by digest: one
	// dropped from the set stays open while streams it claimed finish,
	// and comes back without a second compile. gen is the plugin store's
	// generation mods reflects.
	plugins map[string]*wasm.Module
	gen     string
	// pins are the ports enabled plugins are pinned to (plugin enable
	// --port), port → plugin name.
	pins map[uint16]string
}

// all is every module loaded in this run, the plugins no longer in the set
// included: those whose records and health are saved when the run ends.
func (l *loaded) all() []*wasm.Module {
	out := slices.Clone(l.mods)
	for _, m := range l.plugins {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func (l *loaded) engines() []engine.Dissector {
	out := make([]engine.Dissector, len(l.mods))
	for i, m := range l.mods {
		out[i] = m
	}
	return out
}

func (l *loaded) close(ctx context.Context) { l.rt.Close(ctx) }

// loadDissectors loads the built-in dissectors, the enabled installed
// plugins and any extra modules named on the command line. With their
// manifests in the user's cache, nothing is compiled here: each module
// compiles when the traffic first needs it.
func loadDissectors(ctx context.Context, g *globals, extra []string) (*loaded, error) {
	return loadSet(ctx, g, extra, true)
}

// loadBuiltins compiles the built-in dissectors only.
func loadBuiltins(ctx context.Context, g *globals) (*loaded, error) {
	return loadSet(ctx, g, nil, false)
}

func loadSet(ctx context.Context, g *globals, extra []string, withPlugins bool) (*loaded, error) {
	builtin, err := dissectors.Builtin()
	if err != nil {
		return nil, err
	}
	rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: g.wasmCacheDir(), Logger: g.logger()})
	if err != nil {
		return nil, err
	}
	type source struct {
		name     string
		code     []byte
		read     func() ([]byte, error) // a built-in's code, read when first compiled
		manifest *sdk.Manifest          // known without running the module
		probe    func(sdk.Direction, []byte) sdk.Probe
	}
	var srcs []source
	for _, b := range builtin {
		srcs = append(srcs, source{"built-in", nil, b.Wasm, &b.Manifest, b.Probe})
	}
	nBuiltin := len(srcs)
	var gen string
	var digests []string
	var pins map[uint16]string
	if withPlugins {
		store := pluginStore(g, nil)
		// Read before the plugins: a change made meanwhile shows as a
		// new generation to the next reload.
		if gen, err = store.Generation(); err != nil {
			rt.Close(ctx)
			return nil, err
		}
		ps, as, err := store.Enabled(ctx)
		if err != nil {
			rt.Close(ctx)
			return nil, fmt.Errorf("installed plugins: %w", err)
		}
		for i, p := range ps {
			srcs = append(srcs, source{pluginSource(p), as[i].Code, nil, nil, nil})
			digests = append(digests, p.Digest)
		}
		pins = pluginPins(g, ps)
	}
	for _, path := range extra {
		code, err := os.ReadFile(path)
		if err != nil {
			rt.Close(ctx)
			return nil, fmt.Errorf("dissector %s: %w", path, err)
		}
		srcs = append(srcs, source{path, code, nil, nil, nil})
	}
	// A plugin not yet in the cache is instrumented, compiled and started
	// to read its manifest: seconds each. They are independent, so they
	// share the cores. Built-ins come with their manifests.
	mods := make([]*wasm.Module, len(srcs))
	errs := make([]error, len(srcs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(srcs)) {
		wg.Go(func() {
			for i := range next {
				if srcs[i].read != nil {
					mods[i], errs[i] = rt.LoadDescribedFunc(ctx, srcs[i].name, srcs[i].read, *srcs[i].manifest, srcs[i].probe)
					continue
				}
				if srcs[i].manifest != nil {
					mods[i], errs[i] = rt.LoadDescribed(ctx, srcs[i].name, srcs[i].code, *srcs[i].manifest, srcs[i].probe)
					continue
				}
				mods[i], errs[i] = rt.Load(ctx, srcs[i].name, srcs[i].code)
			}
		})
	}
	for i := range srcs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i := nBuiltin; i < len(srcs); i++ {
		if errs[i] != nil && strings.HasPrefix(srcs[i].name, "plugin ") {
			errs[i] = fmt.Errorf("installed %w (kubeshark plugin disable NAME skips it)", errs[i])
		}
	}
	if err := errors.Join(errs...); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	// A plugin never shadows a built-in: install refuses their names, but
	// a later kubeshark may bring a built-in of a plugin's name.
	builtinNames := map[string]bool{}
	for _, m := range mods[:nBuiltin] {
		builtinNames[m.Manifest().Name] = true
	}
	plugins := map[string]*wasm.Module{}
	for i, d := range digests {
		plugins[d] = mods[nBuiltin+i]
	}
	nExtra := len(extra)
	mods = slices.DeleteFunc(mods, func(m *wasm.Module) bool {
		if strings.HasPrefix(m.Source(), "plugin ") && builtinNames[m.Manifest().Name] {
			g.logger().Warn("a loaded module has the name of a built-in dissector and is skipped", "name", m.Manifest().Name, "source", m.Source())
			m.Close(ctx)
			for d, pm := range plugins {
				if pm == m {
					delete(plugins, d)
				}
			}
			return true
		}
		return false
	})
	l := &loaded{rt: rt, mods: mods, nBuiltin: nBuiltin, nExtra: nExtra, plugins: plugins, gen: gen, pins: pins}
	return l, nil
}

// healthKey is where the last import's view of a dissector's health lives,
// so that `kubeshark dissectors` can report faults and quarantines after the
// importing process is gone.
func healthKey(name string) string { return mcp.DissectorHealthKey(name) }

type savedHealth struct {
	engine.Health
	Source string    `json:"source"`
	At     time.Time `json:"at"`
	// Errors are the dissector errors the import met: connections given
	// up on, malformed records, faults, with examples.
	Errors *pipeline.DissectorErrors `json:"errors,omitempty"`
}

func saveHealth(ctx context.Context, st *storage.Store, l *loaded, errs map[string]*pipeline.DissectorErrors) error {
	for _, m := range l.all() {
		h := savedHealth{Health: m.Health(), Source: m.Source(), At: time.Now().UTC(), Errors: errs[m.Manifest().Name]}
		b, err := json.Marshal(h)
		if err != nil {
			return err
		}
		if err := st.PutMeta(ctx, healthKey(m.Manifest().Name), b); err != nil {
			return err
		}
	}
	return nil
}

// enabledEngines drops the dissectors disable_dissection switched off, and
// says so, since an import that silently skips a protocol would mislead.
func enabledEngines(ctx context.Context, st *storage.Store, l *loaded, g *globals) ([]engine.Dissector, error) {
	disabled, err := st.DisabledDissectors(ctx)
	if err != nil {
		return nil, err
	}
	var out []engine.Dissector
	for _, m := range l.mods {
		name := m.Manifest().Name
		if slices.Contains(disabled, "*") || slices.Contains(disabled, name) {
			g.logger().Warn("dissector disabled for imports (enable_dissection turns it back on)", "dissector", name)
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// openPacketLog opens the raw-packet FIFO the commands that capture write
// (import, tap), capped at size bytes; size 0 keeps none and gives a nil
// writer. The returned function closes it, logging a failure, since it
// runs deferred after the records are stored. A live capture's log (live)
// does not fsync the chunks it seals, as the store does not sync its
// writes: both survive tap being killed, not a power loss. An fsync per
// 16 MiB chunk held the log, and with it the pipeline, to the disk's
// speed (about 130 MB/s here) under 64 KiB-body traffic, for packets
// that a ring of the default size evicts within seconds. Nor does it look
// for duplicates: a live packet is newer than anything the log holds.
func openPacketLog(ctx context.Context, g *globals, size int64, live bool) (*packetlog.Writer, func(), error) {
	if size <= 0 {
		return nil, func() {}, nil
	}
	plog, err := packetlog.Open(ctx, filepath.Join(g.dataDir, "packets"), packetlog.Options{MaxBytes: size, ChunkSize: min(packetlog.DefaultChunkSize, size), NoSync: live, NoDedupe: live, Logger: g.logger()})
	if err != nil {
		return nil, nil, err
	}
	return plog, func() {
		if err := plog.Close(); err != nil {
			g.logger().Warn("closing the packet log", "err", err)
		}
	}, nil
}
