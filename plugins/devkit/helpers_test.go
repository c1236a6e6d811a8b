package devkit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/plugins/devkit"
	"github.com/kubeshark-wasm/kubeshark/plugins/plugintest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// The capture and the Go plugin's records are made once per test process:
// building the Go guest is the slowest step of these tests.
var (
	fixtureMu  sync.Mutex
	pcapPath   string
	goRecords  []*sdk.Record
	fixtureDir string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "devkit-test-")
	if err != nil {
		panic(err)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pingpongCapture is real pingpong traffic: 3 connections of 3 PINGs.
func pingpongCapture(t *testing.T) string {
	t.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if pcapPath == "" {
		p := filepath.Join(fixtureDir, "pingpong.pcap")
		plugintest.Capture(t, p, 3, "alice", "bob", "carol")
		pcapPath = p
	}
	return pcapPath
}

// goPingPong is what the Go SDK's pingpong makes of pingpongCapture.
func goPingPong(t *testing.T) []*sdk.Record {
	t.Helper()
	pcap := pingpongCapture(t)
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	if goRecords == nil {
		res, err := devkit.Run(context.Background(), "pingpong (Go)", plugintest.PingPong(t), pcap)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Records) != 9 {
			t.Fatalf("the Go pingpong made %d records of 3 connections × 3 PINGs", len(res.Records))
		}
		goRecords = res.Records
	}
	return goRecords
}

// skipWithout skips a test whose toolchain is missing, saying what installs it.
func skipWithout(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, devkit.ErrToolchain) {
		t.Skipf("%v; `make deps` installs it", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// sameRecords checks that got equals the Go plugin's records: everything a
// golden file keeps, and the times.
func sameRecords(t *testing.T, got []*sdk.Record) {
	t.Helper()
	want := goPingPong(t)
	if g, w := string(devkit.Format(got)), string(devkit.Format(want)); g != w {
		t.Fatalf("records differ from the Go plugin's:\n%s", devkit.Diff(w, g))
	}
	for i := range want {
		if !got[i].Timestamp.Equal(want[i].Timestamp) || !got[i].End.Equal(want[i].End) {
			t.Errorf("record %d: times %v–%v, the Go plugin's %v–%v", i, got[i].Timestamp, got[i].End, want[i].Timestamp, want[i].End)
		}
		if got[i].Src != want[i].Src || got[i].Dst != want[i].Dst {
			t.Errorf("record %d: %v → %v, the Go plugin's %v → %v", i, got[i].Src, got[i].Dst, want[i].Src, want[i].Dst)
		}
	}
}

// sdkManifestOfGo is the Go pingpong's manifest as the host read it.
func sdkManifestOfGo(t *testing.T) sdk.Manifest {
	t.Helper()
	res, err := devkit.Run(context.Background(), "pingpong (Go)", plugintest.PingPong(t))
	if err != nil {
		t.Fatal(err)
	}
	return res.Manifest
}
