package tls

import (
	"debug/elf"
	"maps"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
)

// The committed objects for both targets hold the same programs and maps
// (a regeneration that dropped one target would show here).
func TestObjectsForBothTargets(t *testing.T) {
	var progs, mapNames [][]string
	for _, obj := range []string{"tlsprobe_x86_bpfel.o", "tlsprobe_arm64_bpfel.o"} {
		spec, err := ebpf.LoadCollectionSpec(obj)
		if err != nil {
			t.Fatalf("%s: %v", obj, err)
		}
		progs = append(progs, slices.Sorted(maps.Keys(spec.Programs)))
		mapNames = append(mapNames, slices.Sorted(maps.Keys(spec.Maps)))
	}
	if !slices.Equal(progs[0], progs[1]) || !slices.Equal(mapNames[0], mapNames[1]) {
		t.Fatalf("x86 and arm64 objects differ: programs %v / %v, maps %v / %v", progs[0], progs[1], mapNames[0], mapNames[1])
	}
	if len(progs[0]) != 16 {
		t.Fatalf("%d programs: %v", len(progs[0]), progs[0])
	}
}

func TestRegisterABI(t *testing.T) {
	for _, tc := range []struct {
		v     string
		arm64 bool
		want  bool
	}{
		{"go1.16.15", false, false}, {"go1.17", false, true}, {"go1.19.8", false, true},
		{"go1.17.13", true, false}, {"go1.18", true, true}, {"go1.26.8", true, true},
		{"devel go1.27-abcdef", false, true},
	} {
		m := elf.EM_X86_64
		if tc.arm64 {
			m = elf.EM_AARCH64
		}
		if got := registerABI(tc.v, m); got != tc.want {
			t.Errorf("registerABI(%q, %v) = %v, want %v", tc.v, m, got, tc.want)
		}
	}
}

func TestKnownLayout(t *testing.T) {
	for v, want := range map[string]bool{
		"go1.16": false, "go1.17.2": true, "go1.19.8": true, "go1.26.8": true,
		"go1.27": false, "go2.0": false, "devel go1.27-abc": false,
	} {
		if got := knownLayout(v); got != want {
			t.Errorf("knownLayout(%q) = %v, want %v", v, got, want)
		}
	}
}
