package hub

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestTokenIsGeneratedOncePrivateAndShared(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadToken(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadToken before generation: %v", err)
	}
	// Hubs starting at once agree on one token.
	var wg sync.WaitGroup
	toks := make([]string, 8)
	created := make([]bool, 8)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			toks[i], created[i], err = LoadOrCreateToken(dir)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	n := 0
	for i := range toks {
		if toks[i] != toks[0] {
			t.Fatalf("tokens differ: %q vs %q", toks[i], toks[0])
		}
		if created[i] {
			n++
		}
	}
	if n != 1 || len(toks[0]) != 64 {
		t.Fatalf("%d creators, token length %d; want 1 and 64", n, len(toks[0]))
	}
	info, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v", info.Mode().Perm(), err)
	}

	if err := os.WriteFile(filepath.Join(dir, TokenFile), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadToken(dir); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("short token accepted: %v", err)
	}
}

func TestHandlerRefusesAWeakToken(t *testing.T) {
	if _, err := Handler(Options{Token: "x"}); err == nil {
		t.Fatal("handler without a server accepted")
	}
}
