package storage

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// An open store records who holds it, so that a command waiting for it can
// say so (issue 15, item 9); the record goes with the store, and a record
// left by a process that died is not believed.
func TestHolderRecord(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if _, ok := ReadHolder(dir); ok {
		t.Fatal("a holder before anything opened the store")
	}
	st, err := Open(context.Background(), Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	h, ok := ReadHolder(dir)
	if !ok || h.PID != os.Getpid() || h.Command == "" || filepath.Base(os.Args[0]) != h.Command[:len(filepath.Base(os.Args[0]))] || h.Since.IsZero() {
		t.Fatalf("holder while open: %+v %v", h, ok)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(holderPath(dir)); !os.IsNotExist(err) {
		t.Fatalf("holder record left after Close: %v", err)
	}

	// A record naming a process that has exited is stale.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` to make a dead pid:", err)
	}
	b, _ := json.Marshal(Holder{Command: "kubeshark import gone.pcap", PID: cmd.Process.Pid})
	os.WriteFile(holderPath(dir), b, 0o644)
	if h, ok := ReadHolder(dir); ok {
		t.Fatalf("a dead process believed to hold the store: %+v", h)
	}
}

func TestAnnounceCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "store")
	release := AnnounceCreate(dir)
	if h, ok := ReadHolder(dir); !ok || h.PID != os.Getpid() {
		t.Fatalf("announced creation not recorded: %+v %v", h, ok)
	}
	// Opening takes the record over; closing removes it; release after
	// that is harmless.
	st, err := Open(context.Background(), Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	release()
	if _, ok := ReadHolder(dir); ok {
		t.Fatal("record left behind")
	}
	// An existing store is not announced: its holder, if any, is the one
	// that opened it.
	AnnounceCreate(dir)()
	if _, err := os.Stat(holderPath(dir)); !os.IsNotExist(err) {
		t.Fatal("an existing store was announced")
	}
}
