package mcp_test

import (
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/storage/analysis"
)

// get_api_stats names the protocol of every status code it counts, so an
// assistant never reads MySQL's error 1045 as an HTTP 5xx.
func TestStatsStatusesNameTheirProtocol(t *testing.T) {
	sc := newScenario(t)
	c := mcptest.Connect(t, mustInProcess(t, sc.server(t)))
	var st analysis.StatsResult
	c.Get(t, "get_api_stats", map[string]any{"start": rfc(sc.cascade.Start), "end": rfc(sc.cascade.End.Add(time.Second)), "group_by": "protocol"}, &st)
	n := 0
	for _, g := range append(st.Groups, st.Total) {
		for _, s := range g.Statuses {
			n++
			if s.Protocol != "http" {
				t.Errorf("%s: status %d counted without its protocol: %+v", g.Key, s.Status, s)
			}
		}
	}
	if n == 0 {
		t.Fatal("no status counts")
	}
}
