package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/plugins"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// pluginPoll is how often a running tap or hub reads the plugin store's
// generation token: one small file, so a plugin installed, enabled,
// disabled or removed by another kubeshark process (or through the hub)
// takes effect within about a second, without a restart.
const pluginPoll = time.Second

// watchPlugins calls apply whenever the plugin store's generation changes,
// until ctx is done. It starts from the generation the caller loaded (gen).
// A failed apply is logged and tried again on the next change.
func watchPlugins(ctx context.Context, g *globals, gen string, apply func(ctx context.Context, gen string) error) {
	store := pluginStore(g, nil)
	t := time.NewTicker(pluginPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur, err := store.Generation()
		if err != nil {
			g.logger().Warn("reading the plugin store", "err", err)
			continue
		}
		if cur == gen {
			continue
		}
		if err := apply(ctx, cur); err != nil {
			g.logger().Warn("applying the plugin store's change", "err", err)
		}
		// A failed apply is not retried until the next change: retrying
		// every second would repeat the same failure.
		gen = cur
	}
}

// reload brings the plugins in l.mods in line with the enabled plugins of
// the store (generation gen): new ones are loaded (from the compilation
// cache when there), removed or disabled ones leave the set but stay open
// for the streams they still hold. A plugin that fails to load is left out
// and reported; the rest of the set changes anyway. It returns the names
// added and removed.
func (l *loaded) reload(ctx context.Context, g *globals, gen string) (added, removed []string, err error) {
	ps, as, err := pluginStore(g, nil).Enabled(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("installed plugins: %w", err)
	}
	builtinNames := map[string]bool{}
	for _, m := range l.mods[:l.nBuiltin] {
		builtinNames[m.Manifest().Name] = true
	}
	var plugs []*wasm.Module
	var errs []string
	for i, p := range ps {
		m := l.plugins[p.Digest]
		if m == nil {
			m, err = l.rt.Load(ctx, pluginSource(p), as[i].Code)
			if err != nil {
				errs = append(errs, fmt.Sprintf("plugin %s: %v", p.Name, err))
				continue
			}
			l.plugins[p.Digest] = m
		}
		if builtinNames[m.Manifest().Name] {
			continue
		}
		plugs = append(plugs, m)
	}
	old := l.mods
	mods := slices.Clone(old[:l.nBuiltin])
	mods = append(mods, plugs...)
	mods = append(mods, old[len(old)-l.nExtra:]...)
	for _, m := range mods {
		if !slices.Contains(old, m) {
			added = append(added, m.Manifest().Name+" "+m.Manifest().Version)
		}
	}
	for _, m := range old {
		if !slices.Contains(mods, m) {
			removed = append(removed, m.Manifest().Name+" "+m.Manifest().Version)
		}
	}
	l.mods, l.gen, l.pins = mods, gen, pluginPins(g, ps)
	if len(errs) > 0 {
		return added, removed, fmt.Errorf("%s (kubeshark plugin disable NAME skips it)", strings.Join(errs, "; "))
	}
	return added, removed, nil
}

// setChange describes a reload for the user: "+memcached 0.1.0, -beanstalk 0.1.0".
func setChange(added, removed []string) string {
	var parts []string
	for _, a := range added {
		parts = append(parts, "+"+a)
	}
	for _, r := range removed {
		parts = append(parts, "-"+r)
	}
	return strings.Join(parts, ", ")
}

// serverDissectors is what an MCP server lists for a dissector set.
func serverDissectors(mods []*wasm.Module) []mcp.Dissector {
	ds := make([]mcp.Dissector, 0, len(mods))
	for _, m := range mods {
		ds = append(ds, mcp.Dissector{Manifest: m.Manifest(), Source: m.Source(), ABIVersion: sdk.ABIVersion})
	}
	return ds
}

// serverSet follows the plugin store for an MCP server that runs no
// dissector itself (kubeshark hub, kubeshark mcp): the built-in and extra
// dissectors it started with, and the enabled plugins as their metadata
// describes them, so that nothing is compiled to list them. Manifests of
// dissectors that left the set are kept as stored manifests, since their
// records may be in the store.
type serverSet struct {
	builtin, extra []mcp.Dissector
	stored         []sdk.Manifest
}

func newServerSet(ds []mcp.Dissector, stored []sdk.Manifest) *serverSet {
	s := &serverSet{stored: stored}
	for _, d := range ds {
		switch {
		case d.Source == "built-in":
			s.builtin = append(s.builtin, d)
		case !strings.HasPrefix(d.Source, "plugin "):
			s.extra = append(s.extra, d)
		}
	}
	return s
}

// apply reads the enabled plugins and hands the new set to srv.
func (s *serverSet) apply(ctx context.Context, g *globals, srv *mcp.Server, prev []mcp.Dissector) ([]mcp.Dissector, error) {
	ps, err := pluginStore(g, nil).List(ctx)
	if err != nil {
		return prev, err
	}
	ds := slices.Clone(s.builtin)
	for _, p := range ps {
		if !p.Enabled || slices.ContainsFunc(s.builtin, func(d mcp.Dissector) bool { return d.Manifest.Name == p.Name }) {
			continue
		}
		ds = append(ds, mcp.Dissector{Manifest: p.Manifest, Source: pluginSource(p), ABIVersion: p.ABI})
	}
	ds = append(ds, s.extra...)
	for _, d := range prev {
		if !slices.ContainsFunc(ds, func(n mcp.Dissector) bool { return n.Manifest.Name == d.Manifest.Name }) &&
			!slices.ContainsFunc(s.stored, func(m sdk.Manifest) bool { return m.Name == d.Manifest.Name }) {
			s.stored = append(s.stored, d.Manifest)
		}
	}
	stored := slices.DeleteFunc(slices.Clone(s.stored), func(m sdk.Manifest) bool {
		return slices.ContainsFunc(ds, func(d mcp.Dissector) bool { return d.Manifest.Name == m.Name })
	})
	if err := srv.SetDissectors(ds, stored); err != nil {
		return prev, err
	}
	return ds, nil
}

// pluginPins collects the ports enabled plugins are pinned to. A port two
// plugins claim goes to the first by name, with a warning.
func pluginPins(g *globals, ps []plugins.Plugin) map[uint16]string {
	var pins map[uint16]string
	for _, p := range ps {
		if !p.Enabled {
			continue
		}
		for _, port := range p.Ports {
			if pins == nil {
				pins = map[uint16]string{}
			}
			if other, dup := pins[port]; dup {
				g.logger().Warn("a port is pinned to two plugins; the first keeps it", "port", port, "kept", other, "ignored", p.Name)
				continue
			}
			pins[port] = p.Name
		}
	}
	return pins
}

// mergePins is the pins the pipeline uses: the plugins' own, overridden
// port by port by --decode-as.
func mergePins(fromPlugins, flags map[uint16]string) map[uint16]string {
	if len(fromPlugins) == 0 {
		return flags
	}
	out := maps.Clone(fromPlugins)
	maps.Copy(out, flags)
	return out
}

// parseDecodeAs reads --decode-as PORT=NAME flags: NAME is a loaded
// dissector's name or one of its protocols. A pin naming a plugin that is
// installed later (tap) is refused now: say it once the plugin is there.
func parseDecodeAs(flags []string, l *loaded) (map[uint16]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[uint16]string{}
	for _, f := range flags {
		port, name, ok := strings.Cut(f, "=")
		n, err := strconv.ParseUint(strings.TrimSpace(port), 10, 16)
		if !ok || err != nil || n == 0 || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("--decode-as %q: want PORT=NAME, e.g. 11311=memcached (PORT 1-65535, NAME a dissector or protocol of kubeshark dissectors)", f)
		}
		name = strings.TrimSpace(name)
		var names []string
		found := false
		for _, m := range l.mods {
			man := m.Manifest()
			names = append(names, man.Name)
			found = found || man.Name == name || slices.Contains(man.Protocols, name)
		}
		if !found {
			return nil, fmt.Errorf("--decode-as %q: no loaded dissector is named %q or speaks it; loaded: %s", f, name, strings.Join(names, ", "))
		}
		if prev, dup := out[uint16(n)]; dup && prev != name {
			return nil, fmt.Errorf("--decode-as: port %d pinned twice (%s and %s)", n, prev, name)
		}
		out[uint16(n)] = name
	}
	return out, nil
}
