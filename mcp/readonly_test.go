package mcp_test

import (
	"context"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/mcp/mcptest"
)

// The README says what "read-only" allows: which tools write (and only
// add) and which need --allow-destructive. This holds the README to the
// tools: the destructive ones are exactly those a read-only server
// refuses, and the additive ones work there without changing what is
// stored.
func TestReadOnlyAllowsOnlyAdditions(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	para := regexp.MustCompile(`(?s)\*\*Read-only\*\* is the default.*?\n\n`).Find(readme)
	if para == nil {
		t.Fatal("README has no **Read-only** paragraph")
	}
	additive, destructive, ok := strings.Cut(string(para), "`--allow-destructive` enables")
	if !ok {
		t.Fatalf("the Read-only paragraph does not say what --allow-destructive enables:\n%s", para)
	}
	sc := newScenario(t)
	s := sc.server(t)
	names := map[string]bool{}
	var wantDestructive []string
	for _, tool := range s.Tools() {
		names[tool.Name] = true
		if *tool.Annotations.DestructiveHint {
			wantDestructive = append(wantDestructive, tool.Name)
		}
	}
	toolsIn := func(text string) []string {
		var out []string
		for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(text, -1) {
			if names[m[1]] {
				out = append(out, m[1])
			}
		}
		sort.Strings(out)
		return out
	}
	sort.Strings(wantDestructive)
	if got := toolsIn(destructive); !reflect.DeepEqual(got, wantDestructive) {
		t.Errorf("README says --allow-destructive enables %v; the destructive tools are %v", got, wantDestructive)
	}
	adds := toolsIn(additive)
	if len(adds) == 0 {
		t.Fatal("README names no tool that adds")
	}

	c := mcptest.Connect(t, mustInProcess(t, s))
	type counts struct {
		Records struct{ Count int } `json:"records"`
		Flows   struct{ Count int } `json:"flows"`
		Packets struct{ Count int } `json:"packets"`
	}
	var before, after counts
	c.Get(t, "get_data_boundaries", nil, &before)
	for _, name := range wantDestructive {
		if res := c.Call(t, name, map[string]any{"name": "http"}); !res.IsError || !strings.Contains(mcptest.Text(res), "--allow-destructive") {
			t.Errorf("%s on a read-only server: %q", name, mcptest.Text(res))
		}
	}
	var snapID string
	for _, name := range adds {
		for _, tool := range s.Tools() {
			if tool.Name == name && !strings.Contains(tool.Description, "read-only server") {
				t.Errorf("%s's description does not say it works on a read-only server: %q", name, tool.Description)
			}
		}
		var args map[string]any
		switch name {
		case "create_snapshot":
			args = map[string]any{"name": "ro", "start": rfc(sc.cascade.Start), "end": rfc(sc.cascade.End.Add(time.Second))}
		case "export_snapshot_pcap":
			args = map[string]any{"id": snapID}
		default:
			t.Fatalf("README names %s as additive; this test does not know how to call it", name)
		}
		var out map[string]any
		c.Get(t, name, args, &out)
		if id, ok := out["id"].(string); ok && name == "create_snapshot" {
			snapID = id
		}
	}
	c.Get(t, "get_data_boundaries", nil, &after)
	if before != after {
		t.Fatalf("the additive tools changed the store: %+v → %+v", before, after)
	}
	if d, err := sc.store.DisabledDissectors(context.Background()); err != nil || len(d) != 0 {
		t.Fatalf("dissection settings changed: %v %v", d, err)
	}
}
