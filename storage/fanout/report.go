package fanout

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// NodeStatus is how one node took part in an answer.
type NodeStatus struct {
	Node string `json:"node"`
	// OK is false when the node did not answer, or failed part way.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Records is how many records (or flows) of the answer came from the
	// node; counts and summaries it contributed are not counted here.
	Records int `json:"records"`
}

// Report collects the node statuses of every fan-out call made through
// one context (one tool call may make several: a page of records, then
// the flow of one of them). It is safe for concurrent use.
type Report struct {
	mu    sync.Mutex
	nodes map[string]*NodeStatus
}

type reportKey struct{}

// Track returns a context whose fan-out calls report to the returned
// Report.
func Track(ctx context.Context) (context.Context, *Report) {
	r := &Report{nodes: map[string]*NodeStatus{}}
	return context.WithValue(ctx, reportKey{}, r), r
}

func reportOf(ctx context.Context) *Report {
	r, _ := ctx.Value(reportKey{}).(*Report)
	return r
}

// answered records that node answered, contributing n items.
func (r *Report) answered(node string, n int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.nodes[node]
	if st == nil {
		st = &NodeStatus{Node: node, OK: true}
		r.nodes[node] = st
	}
	st.Records += n
}

// failed records that node did not answer. A failure sticks: a node that
// missed one part of an answer is missing from the answer.
func (r *Report) failed(node string, err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.nodes[node]
	if st == nil {
		st = &NodeStatus{Node: node}
		r.nodes[node] = st
	}
	if st.OK || st.Error == "" {
		st.Error = err.Error()
	}
	st.OK = false
}

// anyFailed reports whether a node has failed so far.
func (r *Report) anyFailed() bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.nodes {
		if !st.OK {
			return true
		}
	}
	return false
}

// Nodes returns the statuses by node name; nil when no fan-out call was
// made.
func (r *Report) Nodes() []NodeStatus {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.nodes) == 0 {
		return nil
	}
	out := make([]NodeStatus, 0, len(r.nodes))
	for _, st := range r.nodes {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

// Warning says which nodes are missing from the answer, "" when none is:
// `node w2 did not answer (connection refused); results are from 2 of 3
// nodes`.
func (r *Report) Warning() string {
	return Warning(r.Nodes())
}

// Warning is Report.Warning for statuses already collected.
func Warning(nodes []NodeStatus) string {
	var bad []string
	for _, st := range nodes {
		if !st.OK {
			bad = append(bad, fmt.Sprintf("%s (%s)", st.Node, st.Error))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	who := "node " + bad[0] + " did not answer"
	if len(bad) > 1 {
		who = "nodes " + strings.Join(bad, ", ") + " did not answer"
	}
	return fmt.Sprintf("%s; results are from %d of %d nodes", who, len(nodes)-len(bad), len(nodes))
}
