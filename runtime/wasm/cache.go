package wasm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// instrumentVersion names the output of internal/interrupt: bump it when
// the rewrite changes, so that cached rewrites of the old kind are ignored.
const instrumentVersion = 2

// moduleCache keeps, beside wazero's compiled code, what loading a module
// costs before compiling it: its interrupt-instrumented bytes (the rewrite
// takes ~90 ms for a 3.5 MB Go guest) and its manifest (reading it means
// compiling and starting an instance). Entries are named by the SHA-256 of
// the module as given and live in a directory per wazero version, as
// wazero's own cache does; a directory shared by several processes is
// safe because every entry is written aside and renamed into place.
type moduleCache struct {
	dir string // empty: no cache
}

func newModuleCache(root string) moduleCache {
	if root == "" {
		return moduleCache{}
	}
	return moduleCache{dir: filepath.Join(root, "kubeshark-"+wazeroVersion())}
}

func (c moduleCache) path(digest [32]byte, suffix string) string {
	return filepath.Join(c.dir, hex.EncodeToString(digest[:])+suffix)
}

func instrumentedSuffix() string { return fmt.Sprintf(".i%d.wasm", instrumentVersion) }
func manifestSuffix() string     { return fmt.Sprintf(".abi%d.json", sdk.ABIVersion) }

// get returns an entry, or false when there is none (or no cache).
func (c moduleCache) get(digest [32]byte, suffix string) ([]byte, bool) {
	if c.dir == "" {
		return nil, false
	}
	b, err := os.ReadFile(c.path(digest, suffix))
	return b, err == nil
}

// put stores an entry. A cache that cannot be written only costs time
// later, so failures are returned for the caller to log, never to fail on.
func (c moduleCache) put(digest [32]byte, suffix string, data []byte) error {
	if c.dir == "" {
		return nil
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	path := c.path(digest, suffix)
	f, err := os.CreateTemp(c.dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// instrumented is the rewrite of code, with its SHA-256, as a cache entry
// stores it: the digest guards against a torn or altered entry.
func (c moduleCache) instrumented(digest [32]byte) ([]byte, bool) {
	b, ok := c.get(digest, instrumentedSuffix())
	if !ok || len(b) < sha256.Size {
		return nil, false
	}
	sum, code := b[:sha256.Size], b[sha256.Size:]
	if got := sha256.Sum256(code); string(got[:]) != string(sum) {
		return nil, false
	}
	return code, true
}

func (c moduleCache) putInstrumented(digest [32]byte, code []byte) error {
	sum := sha256.Sum256(code)
	return c.put(digest, instrumentedSuffix(), append(sum[:len(sum):len(sum)], code...))
}

var wazeroVersion = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				if d.Replace != nil {
					d = d.Replace
				}
				return d.Version
			}
		}
	}
	return "unknown"
})
