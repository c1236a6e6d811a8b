package mcp

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/fanout"
)

// Reader is what the tools read from a store. *storage.Store is one; a
// *fanout.Cluster is another, which reads every node of a cluster as one
// store. The analyses receive it as their analysis.Source, and use its
// minute cache for rollups where it has one (both do).
type Reader interface {
	Query(ctx context.Context, q storage.Query) (storage.Page, error)
	Get(ctx context.Context, id string) (*sdk.Record, error)
	Flows(ctx context.Context, q storage.FlowQuery) (storage.FlowPage, error)
	Flow(ctx context.Context, id string) (*sdk.Flow, error)
	Summary(ctx context.Context) (storage.Summary, error)
	Bounds(ctx context.Context) (first, last time.Time, err error)
	FlowBounds(ctx context.Context) (first, last time.Time, count int, err error)
	DisabledDissectors(ctx context.Context) ([]string, error)
	SetDisabledDissectors(ctx context.Context, names []string) error
}

var (
	_ Reader = (*storage.Store)(nil)
	_ Reader = (*fanout.Cluster)(nil)
)

// WorkerStatus is how one node of a cluster took part in an answer: a
// tool's answer on a hub that fans out carries one per node in workers.
type WorkerStatus = fanout.NodeStatus

// attachWorkers adds the nodes' statuses to a tool's answer, and the
// warning naming the nodes that did not answer as partial, in the
// structured result and on the summary line, so that neither form hides
// a missing node.
func attachWorkers(res any, summary string, nodes []fanout.NodeStatus) (any, string, error) {
	warning := fanout.Warning(nodes)
	b, err := json.Marshal(res)
	if err != nil {
		return nil, "", err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		m = map[string]any{"result": json.RawMessage(b)}
	}
	m["workers"] = nodes
	if warning != "" {
		m["partial"] = warning
		line, rest, _ := strings.Cut(strings.TrimSpace(summary), "\n")
		summary = "PARTIAL: " + warning + ". " + line
		if rest != "" {
			summary += "\n" + rest
		}
	}
	return m, summary, nil
}
