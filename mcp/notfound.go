package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

// errNoDissector reports a dissector name that is not loaded.
var errNoDissector = errors.New("no such dissector")

// notFoundError says that an id names nothing, in the CLI's words ("no
// call with id …") rather than the store's, and keeps the store's error
// for errors.Is (storage.ErrNotFound, snapshot.ErrNotFound).
type notFoundError struct {
	msg string
	err error
}

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Unwrap() error { return e.err }

// notFound rewords err when it says that the id of a what (call, flow,
// snapshot) is unknown, adding hint (the tool that lists the ids); other
// errors pass unchanged.
func notFound(err error, what, id, hint string) error {
	if !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, snapshot.ErrNotFound) {
		return err
	}
	return &notFoundError{msg: fmt.Sprintf("no %s with id %q; %s", what, id, hint), err: err}
}

const (
	callHint     = "list_api_calls lists the ids"
	flowHint     = "list_l4_flows lists the ids"
	snapshotHint = "list_snapshots lists the ids"
)

// isNotFound reports whether a resource read failed because its id names
// nothing: locally, or on the hub a forwarding server asked (which answers
// RESOURCE_NOT_FOUND, or INVALID_PARAMS from 2026-07-28 on, saying
// "resource not found").
func isNotFound(err error) bool {
	return errors.Is(err, storage.ErrNotFound) || errors.Is(err, snapshot.ErrNotFound) || errors.Is(err, errNoDissector) ||
		errors.Is(err, mcpgo.ErrResourceNotFound) || strings.Contains(err.Error(), "resource not found")
}

// readAhead makes an unknown id in a resource URI the protocol's
// resource-not-found error (-32002; -32602 from protocol 2026-07-28)
// instead of an internal error (-32603), which mcp-go answers for every
// error a resource handler returns. mcp-go gives the not-found code only to
// a URI that no resource matches, so a hook run before the read reads the
// resource: when the id names nothing it changes the URI to one that
// matches nothing and carries the reason; otherwise it keeps the contents
// for the handler, so nothing is read twice.
type readAhead struct {
	read resourceReader
	mu   sync.Mutex
	done map[string][]mcpgo.ResourceContents
}

func (r *readAhead) hooks() *server.Hooks {
	h := &server.Hooks{}
	h.AddBeforeReadResource(func(ctx context.Context, _ any, req *mcpgo.ReadResourceRequest) {
		rest, ok := strings.CutPrefix(req.Params.URI, scheme)
		kind, id, _ := strings.Cut(rest, "/")
		if !ok || id == "" || strings.ContainsAny(id, "/?#") {
			return
		}
		switch kind {
		case "calls", "flows", "snapshots", "dissectors":
		default:
			return
		}
		contents, err := r.read(ctx, req.Params.URI)
		switch {
		case err == nil:
			r.mu.Lock()
			if len(r.done) > 64 {
				// Only a read whose handler never ran leaves an
				// entry behind; bound them.
				clear(r.done)
			}
			r.done[req.Params.URI] = contents
			r.mu.Unlock()
		case isNotFound(err):
			// A space matches no URI template.
			req.Params.URI += " (" + strings.TrimPrefix(err.Error(), fmt.Sprintf("resource %q: ", req.Params.URI)) + ")"
		}
	})
	return h
}

// handler serves a read the hook did, or reads.
func (r *readAhead) handler(ctx context.Context, req mcpgo.ReadResourceRequest) ([]mcpgo.ResourceContents, error) {
	r.mu.Lock()
	c, ok := r.done[req.Params.URI]
	delete(r.done, req.Params.URI)
	r.mu.Unlock()
	if ok {
		return c, nil
	}
	return r.read(ctx, req.Params.URI)
}
