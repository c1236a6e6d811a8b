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
	// Write a private temporary file, then link it into place: the link
	// either publishes a complete token or fails because another hub
	// published one first, whose token is then everyone's. (Creating the
	// final file with O_EXCL would let a second hub read it before the
	// first had written it.)
	f, err := os.CreateTemp(dataDir, ".hub.token-*")
	if err != nil {
		return "", false, fmt.Errorf("hub token: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", false, fmt.Errorf("hub token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("hub token %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("hub token %s: %w", path, err)
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		tok, err = LoadToken(dataDir)
		return tok, false, err
	} else if err != nil {
		return "", false, fmt.Errorf("hub token %s: %w", path, err)
	}
	return tok, true, nil
}
