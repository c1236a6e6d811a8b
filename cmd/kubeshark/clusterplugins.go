package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/storage/fanout"
)

// clusterPlugins is a cluster hub's /api/plugins: a cluster hub holds no
// plugin store of its own, so every change goes to every worker's
// /api/plugins with the workers' token (each worker checks the signature
// with its own trust store and must run with --allow-destructive), and
// the answer says which nodes took it.
type clusterPlugins struct{ cl *fanout.Cluster }

// List merges the workers' lists: one entry per plugin digest and enabled
// state, with "nodes" naming where it is so.
func (c *clusterPlugins) List(ctx context.Context) (any, error) {
	ans, err := c.cl.Broadcast(ctx, http.MethodGet, "/api/plugins", nil)
	if err != nil {
		return nil, err
	}
	type entry struct {
		m     map[string]any
		nodes []string
	}
	var order []string
	seen := map[string]*entry{}
	var failed []string
	for _, a := range ans {
		var ps []map[string]any
		if !a.OK() {
			failed = append(failed, a.Node+": "+a.Error)
			continue
		}
		if err := json.Unmarshal(a.Body, &ps); err != nil {
			failed = append(failed, a.Node+": its answer: "+err.Error())
			continue
		}
		for _, p := range ps {
			key := fmt.Sprint(p["digest"], p["enabled"])
			e := seen[key]
			if e == nil {
				e = &entry{m: p}
				seen[key] = e
				order = append(order, key)
			}
			e.nodes = append(e.nodes, a.Node)
		}
	}
	if len(failed) == len(ans) {
		return nil, fmt.Errorf("plugin list: no node answered (%s)", strings.Join(failed, "; "))
	}
	out := make([]map[string]any, 0, len(order))
	for _, k := range order {
		e := seen[k]
		e.m["nodes"] = e.nodes
		out = append(out, e.m)
	}
	return out, nil
}

func (c *clusterPlugins) Install(ctx context.Context, req hub.InstallRequest) (any, error) {
	return c.change(ctx, "plugin install", http.MethodPost, "/api/plugins", req)
}

func (c *clusterPlugins) SetEnabled(ctx context.Context, ref string, enabled bool) (any, error) {
	verb := "enable"
	if !enabled {
		verb = "disable"
	}
	return c.change(ctx, "plugin "+verb, http.MethodPost, "/api/plugins/"+url.PathEscape(ref)+"/"+verb, nil)
}

func (c *clusterPlugins) Remove(ctx context.Context, ref string) (any, error) {
	return c.change(ctx, "plugin remove", http.MethodDelete, "/api/plugins/"+url.PathEscape(ref), nil)
}

// change sends a change to every worker. Taken by all: the first node's
// answer with "nodes" naming them. Taken by none: an error of the kind the
// nodes' statuses say (not installed, refused, invalid), naming each
// node's reason. Taken by some: an error naming which took it and which
// did not, since a change on some nodes only must not look done.
func (c *clusterPlugins) change(ctx context.Context, what, method, path string, body any) (any, error) {
	ans, err := c.cl.Broadcast(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	var took, failed []string
	var first json.RawMessage
	// kind is the failures' common kind, nil when they differ.
	var kind error
	for _, a := range ans {
		if a.OK() {
			took = append(took, a.Node)
			if first == nil {
				first = a.Body
			}
			continue
		}
		if k := statusKind(a.Status); len(failed) == 0 {
			kind = k
		} else if k != kind {
			kind = nil
		}
		failed = append(failed, a.Node+": "+a.Error)
	}
	switch {
	case len(failed) == 0:
		var m map[string]any
		if err := json.Unmarshal(first, &m); err != nil {
			return nil, fmt.Errorf("%s: node %s's answer: %w", what, took[0], err)
		}
		m["nodes"] = took
		return m, nil
	case len(took) == 0:
		if kind != nil {
			return nil, fmt.Errorf("%w: %s: no node took it (%s)", kind, what, strings.Join(failed, "; "))
		}
		return nil, fmt.Errorf("%s: no node took it (%s)", what, strings.Join(failed, "; "))
	}
	return nil, fmt.Errorf("%s: taken by %d of %d nodes (%s); not by %s: run it again once they answer", what, len(took), len(ans), strings.Join(took, ", "), strings.Join(failed, "; "))
}

// statusKind is the hub error a worker's status stands for.
func statusKind(status int) error {
	switch status {
	case http.StatusNotFound:
		return hub.ErrPluginNotFound
	case http.StatusForbidden:
		return hub.ErrPluginRefused
	case http.StatusBadRequest:
		return hub.ErrPluginInvalid
	}
	return nil
}
