package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// manifestsKey holds, in the store's metadata, the manifest of every
// dissector that produced stored records: a plugin's fields stay usable in
// filters after the plugin is disabled or removed, for as long as its
// records are kept.
const manifestsKey = "dissector-manifests"

// saveManifests records the manifests of the loaded dissectors whose
// protocols produced records.
func saveManifests(ctx context.Context, st *storage.Store, l *loaded, byProtocol map[string]int64) error {
	kept, err := storedManifests(ctx, st)
	if err != nil {
		return err
	}
	byName := map[string]sdk.Manifest{}
	for _, m := range kept {
		byName[m.Name] = m
	}
	changed := false
	for _, mod := range l.all() {
		m := mod.Manifest()
		if !slices.ContainsFunc(m.Protocols, func(p string) bool { return byProtocol[p] > 0 }) {
			continue
		}
		if old, ok := byName[m.Name]; ok {
			if a, _ := json.Marshal(old); string(a) == string(mustJSON(m)) {
				continue
			}
		}
		byName[m.Name] = m
		changed = true
	}
	if !changed {
		return nil
	}
	out := make([]sdk.Manifest, 0, len(byName))
	for _, m := range byName {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return st.PutMeta(ctx, manifestsKey, mustJSON(out))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// storedManifests returns the manifests saveManifests kept.
func storedManifests(ctx context.Context, st *storage.Store) ([]sdk.Manifest, error) {
	b, err := st.GetMeta(ctx, manifestsKey)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ms []sdk.Manifest
	if err := json.Unmarshal(b, &ms); err != nil {
		return nil, fmt.Errorf("stored dissector manifests: %w", err)
	}
	return ms, nil
}

// unloadedManifests returns the stored manifests of dissectors that are not
// loaded (a removed or disabled plugin), whose records are still in the
// store of the data directory. A data directory without a store has none.
func unloadedManifests(ctx context.Context, g *globals, st *storage.Store, l *loaded) []sdk.Manifest {
	if st == nil {
		if _, err := os.Stat(filepath.Join(g.dataDir, "store")); err != nil {
			return nil
		}
		// A running tap holds the store for as long as it captures:
		// waiting for it would cost every command two seconds.
		if url := runningTap(g.dataDir); url != "" {
			g.logger().Debug("not reading the manifests of stored records: a tap holds the store", "hub", url)
			return nil
		}
		// A busy store (an import, a hub) costs the fields of removed
		// plugins, not a wait.
		s, err := storage.OpenWhenFree(ctx, storeOptions(g, storage.Options{}), 2*time.Second, nil)
		if err != nil {
			g.logger().Warn("reading the manifests of stored records", "err", err)
			return nil
		}
		defer s.Close()
		st = s
	}
	ms, err := storedManifests(ctx, st)
	if err != nil {
		g.logger().Warn("reading the manifests of stored records", "err", err)
		return nil
	}
	var out []sdk.Manifest
	for _, m := range ms {
		if !slices.ContainsFunc(l.mods, func(mod *wasm.Module) bool { return mod.Manifest().Name == m.Name }) {
			out = append(out, m)
		}
	}
	return out
}
