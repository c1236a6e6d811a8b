package mcp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// A time of day names no date: the answer must say which day it was placed
// on, and warn when the store holds other days on which it means something
// else (issue 15, item 21).
func TestTimeOfDayAnswersSayWhichDay(t *testing.T) {
	f := newFixture(t)
	c := mcptest.Connect(t, mustInProcess(t, f.server(t, false)))

	type withTimes struct {
		mcp.ListCallsResult
		Resolved *mcp.TimeResolution `json:"resolved_times"`
	}
	var plain withTimes
	res := c.Call(t, "list_api_calls", map[string]any{"start": "-1000000h", "limit": 1})
	c.Structured(t, "list_api_calls", res, &plain)
	if plain.Resolved != nil || strings.Contains(mcptest.Text(res), "times of day") {
		t.Fatalf("no time of day given, yet the answer resolves one: %+v %q", plain.Resolved, mcptest.Text(res))
	}
	newest := plain.Calls[0].Timestamp.UTC()
	day := newest.Format("2006-01-02")

	var one withTimes
	res = c.Call(t, "list_api_calls", map[string]any{"start": "00:00", "end": "23:59:59", "limit": 1})
	c.Structured(t, "list_api_calls", res, &one)
	if one.Resolved == nil || one.Resolved.Day != day || one.Resolved.SeveralDays || len(one.Resolved.Times) != 2 ||
		one.Resolved.Times[0].Input != "00:00" || one.Resolved.Times[0].Time.Format("2006-01-02") != day {
		t.Fatalf("one day held: resolved_times %+v, want day %s", one.Resolved, day)
	}
	if !strings.Contains(mcptest.Text(res), "note: times of day were taken on "+day) {
		t.Fatalf("text does not say the day: %q", mcptest.Text(res))
	}

	// A record from two days before: the store now spans several days.
	oldAt := newest.Add(-48 * time.Hour)
	old := &sdk.Record{ID: storage.NewID(oldAt, 1), Protocol: "http", Dissector: "http", Method: "GET", Path: "/old",
		Timestamp: oldAt, Src: sdk.Endpoint{IP: "10.1.1.1", Port: 1}, Dst: sdk.Endpoint{IP: "10.1.1.2", Port: 80}}
	if err := f.store.Put(context.Background(), []*sdk.Record{old}); err != nil {
		t.Fatal(err)
	}
	var many withTimes
	res = c.Call(t, "get_api_stats", map[string]any{"start": "00:00"})
	c.Structured(t, "get_api_stats", res, &many)
	if many.Resolved == nil || !many.Resolved.SeveralDays || many.Resolved.Day != day ||
		!strings.Contains(many.Resolved.Note, "spans several days") || !strings.Contains(mcptest.Text(res), "spans several days") {
		t.Fatalf("several days held: resolved_times %+v, text %q", many.Resolved, mcptest.Text(res))
	}
}
