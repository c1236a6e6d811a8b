package devkit_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/plugins/devkit"
)

// TestCheckFields: a plugin whose manifest lies (plugins/testdata/liar)
// still has its records, and CheckFields names each lie; an honest one
// has none.
func TestCheckFields(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "liar.wasm")
	skipWithout(t, devkit.CompileC(ctx, out, []string{"../../sdk/c"}, "../testdata/liar/liar.c"))
	code, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := devkit.Run(ctx, out, code, pingpongCapture(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Records) != 9 || res.Health.Faults != 0 {
		t.Fatalf("%d records, health %+v: a lying manifest costs no records", len(res.Records), res.Health)
	}
	want := []string{
		`response field "liar_n" is a string, the manifest says int: filters on it never match`,
		`response field "liar_undeclared" is not in the manifest: filters cannot use it`,
	}
	if got := devkit.CheckFields(res.Manifest, res.Records); !slices.Equal(got, want) {
		t.Errorf("CheckFields:\n got %q\nwant %q", got, want)
	}
	if got := devkit.CheckFields(res.Manifest, goPingPong(t)); len(got) != 2 {
		// pingpong's fields are not in liar's manifest: both undeclared.
		t.Errorf("pingpong's records against liar's manifest: %q", got)
	}
	if got := devkit.CheckFields(sdkManifestOfGo(t), goPingPong(t)); len(got) != 0 {
		t.Errorf("the honest pingpong: %q", got)
	}
}
