package analysis

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// TestServiceMap: client X → shop/frontend (two pods, one name) → API
// → database (postgres), and a worker → database (redis).
func TestServiceMap(t *testing.T) {
	var cs []call
	for i := 0; i < 10; i++ {
		at := sec(float64(i))
		// Two pods of the frontend, one name.
		frontIP := []string{"10.0.1.1", "10.0.1.11"}[i%2]
		cs = append(cs,
			call{at: at, src: "10.0.0.9", dst: frontIP + ":80", dstName: "shop/frontend", path: "/", ms: float64(i + 1), reqSize: 10, respSize: 100},
			call{at: at, src: frontIP, srcName: "shop/frontend", dst: "10.0.1.2:8080", path: "/api", ms: 5, failed: i < 2, status: 500},
		)
		if i < 5 {
			cs = append(cs,
				call{at: at, src: "10.0.1.2", dst: "10.0.1.3:5432", proto: "postgres", method: "SELECT", path: "SELECT 1", ms: 1},
				call{at: at, src: "10.0.1.4", dst: "10.0.1.3:6379", proto: "redis", method: "GET", path: "k", ms: 1},
			)
		}
	}
	st := openStore(t, recs(cs...))
	ctx := context.Background()

	m, err := ServiceMap(ctx, st, MapQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if m.NodesSeen != 5 || m.EdgesSeen != 4 || m.Truncated {
		t.Fatalf("%d nodes, %d edges, truncated %v", m.NodesSeen, m.EdgesSeen, m.Truncated)
	}
	nodes := map[string]Node{}
	for _, n := range m.Nodes {
		nodes[n.ID] = n
	}
	wantRoles := map[string]string{"10.0.0.9": RoleClient, "shop/frontend": RoleBoth, "10.0.1.2": RoleBoth, "10.0.1.3": RoleServer, "10.0.1.4": RoleClient}
	for id, role := range wantRoles {
		if nodes[id].Role != role {
			t.Errorf("node %s role %q, want %q", id, nodes[id].Role, role)
		}
	}
	fe := nodes["shop/frontend"]
	if fe.CallsIn != 10 || fe.CallsOut != 10 || fe.ErrorsOut != 2 || fe.Name != "frontend" || fe.Namespace != "shop" ||
		!reflect.DeepEqual(fe.IPs, []string{"10.0.1.1", "10.0.1.11"}) {
		t.Errorf("frontend node %+v", fe)
	}
	if db := nodes["10.0.1.3"]; !reflect.DeepEqual(db.Protocols, []string{"postgres", "redis"}) || db.CallsIn != 10 {
		t.Errorf("db node %+v", db)
	}
	first := m.Edges[0]
	if first.Client != "10.0.0.9" || first.Server != "shop/frontend" || first.Calls != 10 || first.P50 != 5 || first.P95 != 10 ||
		first.RequestBytes != 100 || first.ResponseBytes != 1000 || !reflect.DeepEqual(first.Ports, []int{80}) {
		t.Errorf("busiest edge %+v", first)
	}
	for _, e := range m.Edges {
		if e.Client == "shop/frontend" && (e.Errors != 2 || e.ErrorRate != 0.2) {
			t.Errorf("frontend → api edge %+v", e)
		}
	}

	// Limit lists the busiest edges and the nodes they touch.
	m, err = ServiceMap(ctx, st, MapQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Edges) != 1 || len(m.Nodes) != 2 || !m.Truncated {
		t.Errorf("limit 1: %d edges, %d nodes, truncated %v", len(m.Edges), len(m.Nodes), m.Truncated)
	}

	tests := []struct {
		node     string
		matched  []string
		callers  []string
		callees  []string
		impact   []ImpactNode
		maxDepth int
	}{
		{node: "10.0.1.3", matched: []string{"10.0.1.3"}, callers: []string{"10.0.1.2", "10.0.1.4"}, callees: nil,
			impact: []ImpactNode{
				{Node: "10.0.1.2", Depth: 1, Via: "10.0.1.3", Calls: 5},
				{Node: "10.0.1.4", Depth: 1, Via: "10.0.1.3", Calls: 5},
				{Node: "shop/frontend", Depth: 2, Via: "10.0.1.2", Calls: 10, Errors: 2},
				{Node: "10.0.0.9", Depth: 3, Via: "shop/frontend", Calls: 10},
			}},
		{node: "10.0.1.3:5432", matched: []string{"10.0.1.3"}, callers: []string{"10.0.1.2", "10.0.1.4"}, maxDepth: 1,
			impact: []ImpactNode{{Node: "10.0.1.2", Depth: 1, Via: "10.0.1.3", Calls: 5}, {Node: "10.0.1.4", Depth: 1, Via: "10.0.1.3", Calls: 5}}},
		{node: "frontend", matched: []string{"shop/frontend"}, callers: []string{"10.0.0.9"}, callees: []string{"10.0.1.2"},
			impact: []ImpactNode{{Node: "10.0.0.9", Depth: 1, Via: "shop/frontend", Calls: 10}}},
		{node: "shop/frontend:80", matched: []string{"shop/frontend"}, callers: []string{"10.0.0.9"}, callees: []string{"10.0.1.2"},
			impact: []ImpactNode{{Node: "10.0.0.9", Depth: 1, Via: "shop/frontend", Calls: 10}}},
		{node: "10.0.1.11", matched: []string{"shop/frontend"}, callers: []string{"10.0.0.9"}, callees: []string{"10.0.1.2"},
			impact: []ImpactNode{{Node: "10.0.0.9", Depth: 1, Via: "shop/frontend", Calls: 10}}},
		{node: "10.9.9.9", matched: []string{}},
	}
	for _, tt := range tests {
		d, err := Dependencies(ctx, st, DependencyQuery{Node: tt.node, MaxDepth: tt.maxDepth})
		if err != nil {
			t.Fatal(err)
		}
		var callers, callees []string
		for _, e := range d.Callers {
			callers = append(callers, e.Client)
		}
		for _, e := range d.Callees {
			callees = append(callees, e.Server)
		}
		if !reflect.DeepEqual(d.Matched, tt.matched) || !reflect.DeepEqual(callers, tt.callers) || !reflect.DeepEqual(callees, tt.callees) {
			t.Errorf("%s: matched %q callers %q callees %q", tt.node, d.Matched, callers, callees)
		}
		if len(tt.impact) == 0 {
			tt.impact = []ImpactNode{}
		}
		if !reflect.DeepEqual(d.Impact, tt.impact) {
			t.Errorf("%s: impact %+v, want %+v", tt.node, d.Impact, tt.impact)
		}
	}
	if _, err := Dependencies(ctx, st, DependencyQuery{}); !errors.Is(err, ErrBadQuery) {
		t.Errorf("no node: %v", err)
	}
}
