package mcp_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// A dissector set replaced while the server serves (a plugin installed into
// a running hub) shows in list_dissectors and the kfl reference, and its
// fields filter.
func TestSetDissectorsWhileServing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.server(t, false)
	names := func() []string {
		t.Helper()
		res, _, err := s.Call(ctx, "list_dissectors", nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range res.(mcp.DissectorsResult).Dissectors {
			out = append(out, d.Name+" "+d.Source)
		}
		return out
	}
	filter := func(expr string) error {
		args, _ := json.Marshal(map[string]any{"kfl": expr, "limit": 1})
		_, _, err := s.Call(ctx, "list_api_calls", args)
		return err
	}
	if err := filter("memcached && memcached_key == \"a\""); err == nil || !strings.Contains(err.Error(), "undeclared") {
		t.Fatalf("a plugin's field filtered before it was loaded: %v", err)
	}
	plugin := mcp.Dissector{Manifest: sdk.Manifest{Name: "memcached", Version: "0.1.0", Protocols: []string{"memcached"}, Transports: []string{"tcp"},
		Fields: []sdk.FieldSpec{{Name: "memcached_key", Type: "string"}}}, Source: "plugin sha256:0123 from memcached.wasm", ABIVersion: sdk.ABIVersion}
	if err := s.SetDissectors(append(dissectorList(), plugin), nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(), ","); !strings.Contains(got, "memcached plugin sha256:0123") {
		t.Fatalf("list_dissectors after the install: %s", got)
	}
	if err := filter("memcached && memcached_key == \"a\""); err != nil {
		t.Fatalf("the plugin's field after the install: %v", err)
	}
	// Removed, with its records still stored: the fields stay.
	if err := s.SetDissectors(dissectorList(), []sdk.Manifest{plugin.Manifest}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(), ","); strings.Contains(got, "memcached") {
		t.Fatalf("list_dissectors after the removal: %s", got)
	}
	if err := filter("memcached_key == \"a\""); err != nil {
		t.Fatalf("the removed plugin's field: %v", err)
	}
}

// list_dissectors carries what the last import or tap saw of each
// dissector: faults, errors, contested connections.
func TestListDissectorsCarriesLastRun(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	saved := `{"faults":2,"quarantined":false,"last_fault":"trap","at":"2026-12-06T07:00:00Z","errors":{"count":3,"examples":[{"kind":"contested","conn":"tcp 10.0.0.1:40000 ↔ 10.0.1.1:80","error":"its probe took the connection"}]}}`
	if err := f.store.PutMeta(ctx, mcp.DissectorHealthKey("http"), []byte(saved)); err != nil {
		t.Fatal(err)
	}
	res, _, err := f.server(t, false).Call(ctx, "list_dissectors", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := res.(mcp.DissectorsResult).Dissectors[0]
	if d.LastRun == nil || d.LastRun.Faults != 2 || d.LastRun.Errors == nil || d.LastRun.Errors.Count != 3 || d.LastRun.Errors.Examples[0].Kind != "contested" {
		t.Fatalf("last run of %s: %+v", d.Name, d.LastRun)
	}
}
