package plugins_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/plugins"
)

func TestKeysAndSignatures(t *testing.T) {
	dir := t.TempDir()
	code := []byte("\x00asm\x01\x00\x00\x00 pretend module")
	tests := []struct {
		name, password, readWith string
		wantErr                  string
	}{
		{name: "password-less", password: "", readWith: ""},
		{name: "encrypted", password: "s3cret", readWith: "s3cret"},
		{name: "encrypted, wrong password", password: "s3cret", readWith: "guess", wantErr: "wrong password"},
		{name: "encrypted, no password", password: "s3cret", readWith: "", wantErr: plugins.PasswordEnv},
	}
	// Encrypting a key costs what minisign makes it cost (scrypt with a GiB
	// of memory, seconds), so each password's key is made once.
	type pair struct {
		pub, priv []byte
		id        string
	}
	made := map[string]pair{}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kp0, ok := made[tc.password]
			if !ok {
				pub, priv, id, err := plugins.GenerateKey(tc.password)
				if err != nil {
					t.Fatal(err)
				}
				kp0 = pair{pub, priv, id}
				made[tc.password] = kp0
			}
			pub, priv, id := kp0.pub, kp0.priv, kp0.id
			kp := filepath.Join(dir, tc.name+".key")
			pp := filepath.Join(dir, tc.name+".pub")
			os.WriteFile(kp, priv, 0o600)
			os.WriteFile(pp, pub, 0o644)
			if got, err := plugins.PublicKeyID(pub); err != nil || got != id {
				t.Fatalf("PublicKeyID = %q, %v; want %q", got, err, id)
			}
			k, err := plugins.ReadPrivateKey(kp, tc.readWith)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), kp) {
					t.Fatalf("got %v, want an error naming %s with %q", err, kp, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sig := plugins.Sign(k, code, "m.wasm")
			if !strings.Contains(string(sig), "file:m.wasm") {
				t.Errorf("signature lacks the file name in its trusted comment:\n%s", sig)
			}
			if got, err := plugins.VerifyWithKey(pp, code, sig); err != nil || got != id {
				t.Fatalf("VerifyWithKey = %q, %v", got, err)
			}
			if _, err := plugins.VerifyWithKey(pp, append(code, 'x'), sig); !errors.Is(err, plugins.ErrBadSignature) {
				t.Fatalf("altered bytes: %v", err)
			}
			// Trust store: only the directory holding the public key trusts it.
			trust := filepath.Join(dir, "trust", itoa(i))
			os.MkdirAll(trust, 0o755)
			ts := plugins.TrustStore{Dirs: []string{trust}}
			if _, err := ts.Check(code, sig); !errors.Is(err, plugins.ErrUntrusted) || !strings.Contains(err.Error(), id) {
				t.Fatalf("empty trust store: %v", err)
			}
			os.WriteFile(filepath.Join(trust, "k.pub"), pub, 0o644)
			if k, err := ts.Check(code, sig); err != nil || k.ID != id {
				t.Fatalf("trusted: %v %v", k, err)
			}
			if _, err := ts.Check(code, nil); !errors.Is(err, plugins.ErrUnsigned) {
				t.Fatalf("no signature: %v", err)
			}
		})
	}
}

func TestTrustStoreRejectsAJunkKeyFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "junk.pub"), []byte("hello\n"), 0o644)
	_, err := plugins.TrustStore{Dirs: []string{dir}}.Keys()
	if err == nil || !strings.Contains(err.Error(), "junk.pub") {
		t.Fatalf("got %v, want an error naming junk.pub", err)
	}
}

func TestOversizeModule(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.wasm")
	f, _ := os.Create(p)
	f.Truncate(plugins.MaxModuleSize + 1)
	f.Close()
	if _, err := plugins.Fetch(t.Context(), p, plugins.FetchOptions{}); !errors.Is(err, plugins.ErrInvalid) || !strings.Contains(err.Error(), p) {
		t.Fatalf("got %v, want ErrInvalid naming %s", err, p)
	}
}

func itoa(i int) string { return string(rune('a' + i)) }
