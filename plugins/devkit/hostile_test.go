package devkit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/plugins/devkit"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
)

// TestHostileGuests runs C and Rust guests that misbehave
// (plugins/testdata/hostile) on real traffic through the host, as the WAT
// guests of runtime/wasm's suite do at the instance level: the host's
// containment does not depend on the language. A guest that breaks a rule
// while running faults on each connection it claimed (the fault names the
// rule) and makes no records; one that breaks the ABI is refused at load
// with the error ABI.md gives.
func TestHostileGuests(t *testing.T) {
	ctx := context.Background()
	pcap := pingpongCapture(t)
	for _, tc := range []struct {
		name string
		load error  // a load error wrapping this, or nil
		want string // in the load error or the last fault
	}{
		{"oob_emit", nil, "emit(1, 2147483632, 64) is outside guest memory"},
		{"oob_buffer", nil, "register_buffer(2147483632, 1048576) is outside guest memory"},
		{"flood", nil, "guest emitted more than 10000 records in one call"},
		{"bad_record", nil, "guest emitted a bad record: malformed record encoding"},
		{"overconsume", nil, "feed consumed"},
		{"trap", nil, "unreachable"},
		{"panic", nil, "dissector instance fault"},
		{"abi_v2", wasm.ErrABI, "module is built for ABI v2, this host speaks v1"},
		{"unknown_import", wasm.ErrLoad, `"open_socket" is not exported in module "kubeshark"`},
	} {
		for _, lang := range []devkit.Lang{devkit.C, devkit.Rust} {
			if (tc.name == "panic" && lang == devkit.C) || (tc.name == "trap" && lang == devkit.Rust) || (tc.name == "oob_buffer" && lang == devkit.Rust) {
				continue // one language's idiom for the same fault is enough
			}
			t.Run(string(lang)+"/"+tc.name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "hostile.wasm")
				skipWithout(t, buildHostile(ctx, lang, tc.name, out))
				code, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				res, err := devkit.Run(ctx, out, code, pcap)
				if tc.load != nil {
					if !errors.Is(err, tc.load) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), out) {
						t.Fatalf("load error %v, want %v naming %s and saying %q", err, tc.load, out, tc.want)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				// 3 connections, each claimed and each a fault.
				if res.Health.Faults != 3 || !strings.Contains(res.Health.LastFault, tc.want) {
					t.Fatalf("health %+v, want 3 faults saying %q", res.Health, tc.want)
				}
				if tc.name != "flood" && len(res.Records) != 0 {
					t.Errorf("%d records from a faulting guest", len(res.Records))
				}
			})
		}
	}
}

func buildHostile(ctx context.Context, lang devkit.Lang, behaviour, out string) error {
	if lang == devkit.C {
		cc, err := devkit.Clang()
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, cc, "--target=wasm32-wasi", "-O2", "-mexec-model=reactor",
			"-DHOSTILE_"+strings.ToUpper(behaviour), "-o", out, "../testdata/hostile/hostile.c")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("clang: %w\n%s", err, msg)
		}
		return nil
	}
	rc, err := devkit.RustC()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, rc, "--edition", "2021", "-O", "-C", "strip=debuginfo", "--target", "wasm32-wasi",
		"--crate-type", "cdylib", "--cfg", fmt.Sprintf("hostile=%q", behaviour), "-o", out, "../testdata/hostile/hostile.rs")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rustc: %w\n%s", err, msg)
	}
	return nil
}
