package devkit_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/plugins/devkit"
)

// TestPluginFromABIDocument builds plugins/testdata/pingpong-abi-c, a
// plugin written in C from sdk/ABI.md alone (no SDK), and checks that the
// host takes its manifest and that its records equal the Go SDK's plugin's
// on real traffic.
func TestPluginFromABIDocument(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pingpong.wasm")
	skipWithout(t, devkit.CompileC(context.Background(), out, nil, "../testdata/pingpong-abi-c/pingpong.c"))
	code, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := devkit.Run(context.Background(), out, code, pingpongCapture(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Name != "pingpong" || len(res.Manifest.Fields) != 2 || !res.Manifest.HasTransport("tcp") {
		t.Errorf("manifest %+v", res.Manifest)
	}
	if res.Health.Faults != 0 {
		t.Errorf("faults: %+v", res.Health)
	}
	sameRecords(t, res.Records)
	if v, _ := res.Records[4].Response.Get("pingpong_n"); v == nil {
		t.Errorf("record 4 has no pingpong_n: %+v", res.Records[4].Response)
	}
}
