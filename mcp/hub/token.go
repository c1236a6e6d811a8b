package hub

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the token's file name in the data directory.
const TokenFile = "hub.token"

// LoadToken reads the hub token from dataDir, or returns an error wrapping
// fs.ErrNotExist when none was generated yet.
func LoadToken(dataDir string) (string, error) {
	path := filepath.Join(dataDir, TokenFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("hub token %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 32 {
		return "", fmt.Errorf("hub token %s: too short (%d characters); delete the file to have a new one generated", path, len(tok))
	}
	return tok, nil
}

// LoadOrCreateToken returns the hub token, generating one (256 random
// bits, file mode 0600) on first use; created reports that it is new, so
// the caller can show it once.
func LoadOrCreateToken(dataDir string) (tok string, created bool, err error) {
	tok, err = LoadToken(dataDir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return tok, false, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, fmt.Errorf("hub token: %w", err)
	}
	tok = hex.EncodeToString(b[:])
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", false, fmt.Errorf("hub token: %w", err)
	}
	path := filepath.Join(dataDir, TokenFile)
	// O_EXCL: two hubs starting at once must not each write a different
	// token and leave one of them holding the wrong one.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		tok, err = LoadToken(dataDir)
		return tok, false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("hub token %s: %w", path, err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("hub token %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("hub token %s: %w", path, err)
	}
	return tok, true, nil
}
