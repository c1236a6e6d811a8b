package plugins_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/plugins"
	"github.com/kubeshark-wasm/kubeshark/plugins/plugintest"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
)

// cacheDir is shared by the tests of this process so that the test plugin
// is compiled once.
var cacheDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "plugins-test-cache-")
	if err != nil {
		panic(err)
	}
	cacheDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// env is one test's data directory: a store, a trust store with one
// trusted key, and an untrusted key.
type env struct {
	dir                string
	store              *plugins.Store
	priv, pub, id      string
	otherPriv, otherID string
	trustDir           string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dir: t.TempDir()}
	e.trustDir = filepath.Join(e.dir, "trusted-keys")
	keys := filepath.Join(e.dir, "keys")
	for _, d := range []string{e.trustDir, keys} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.priv, e.pub, e.id = plugintest.Keys(t, keys, "alice")
	e.otherPriv, _, e.otherID = plugintest.Keys(t, keys, "mallory")
	b, _ := os.ReadFile(e.pub)
	if err := os.WriteFile(filepath.Join(e.trustDir, "alice.pub"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	e.store = plugins.Open(plugins.Options{
		Dir:      filepath.Join(e.dir, "plugins"),
		Trust:    plugins.TrustStore{Dirs: []string{e.trustDir, filepath.Join(e.dir, "no-such-dir")}},
		Reserved: []string{"http", "dns"},
		CacheDir: cacheDir,
	})
	return e
}

// module writes the pingpong module (optionally changed by edit) signed by
// priv (unsigned when priv is empty) and returns its path.
func (e *env) module(t *testing.T, name, priv string, edit func([]byte) []byte) string {
	t.Helper()
	dir := filepath.Join(e.dir, "src", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := plugintest.WritePingPong(t, dir)
	if edit != nil {
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(p, edit(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if priv != "" {
		plugintest.SignFile(t, priv, p)
	}
	return p
}

// customSection appends a custom section: the module stays valid and
// behaves the same, with another digest.
func customSection(b []byte) []byte {
	name := "kubeshark-test"
	payload := append(append([]byte{byte(len(name))}, name...), "v2"...)
	return append(append(append([]byte{}, b...), 0, byte(len(payload))), payload...)
}

func TestInstallTrust(t *testing.T) {
	ctx := context.Background()
	flip := func(b []byte) []byte { b = append([]byte{}, b...); b[len(b)/2] ^= 1; return b }
	tests := []struct {
		name          string
		make          func(t *testing.T, e *env) string
		allowUnsigned bool
		wantErr       error
		// wantHint is the way forward a refusal names.
		wantHint   string
		wantSigner func(e *env) string
	}{
		{name: "signed by a trusted key", make: func(t *testing.T, e *env) string { return e.module(t, "ok", e.priv, nil) },
			wantSigner: func(e *env) string { return e.id }},
		{name: "unsigned", make: func(t *testing.T, e *env) string { return e.module(t, "unsigned", "", nil) }, wantErr: plugins.ErrUnsigned,
			wantHint: "kubeshark plugin sign "},
		{name: "unsigned allowed", make: func(t *testing.T, e *env) string { return e.module(t, "unsigned", "", nil) }, allowUnsigned: true,
			wantSigner: func(*env) string { return plugins.Unsigned }},
		{name: "untrusted key", make: func(t *testing.T, e *env) string { return e.module(t, "untrusted", e.otherPriv, nil) }, wantErr: plugins.ErrUntrusted,
			wantHint: "kubeshark plugin trust KEY.pub"},
		{name: "untrusted key allowed", make: func(t *testing.T, e *env) string { return e.module(t, "untrusted", e.otherPriv, nil) }, allowUnsigned: true,
			wantSigner: func(*env) string { return plugins.Unsigned }},
		{name: "module tampered after signing", allowUnsigned: true, wantErr: plugins.ErrBadSignature, wantHint: "sign it again with kubeshark plugin sign", make: func(t *testing.T, e *env) string {
			p := e.module(t, "tampered", e.priv, nil)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, flip(b), 0o644)
			return p
		}},
		{name: "signature tampered", allowUnsigned: true, wantErr: plugins.ErrBadSignature, make: func(t *testing.T, e *env) string {
			p := e.module(t, "badsig", e.priv, nil)
			sig, _ := os.ReadFile(p + ".minisig")
			lines := strings.Split(string(sig), "\n")
			// Past the algorithm and key id: the Ed25519 signature.
			l := []byte(lines[1])
			if l[40] == 'A' {
				l[40] = 'B'
			} else {
				l[40] = 'A'
			}
			lines[1] = string(l)
			os.WriteFile(p+".minisig", []byte(strings.Join(lines, "\n")), 0o644)
			return p
		}},
		{name: "signature is garbage", allowUnsigned: true, wantErr: plugins.ErrBadSignature, make: func(t *testing.T, e *env) string {
			p := e.module(t, "garbage", "", nil)
			os.WriteFile(p+".minisig", []byte("not a signature\n"), 0o644)
			return p
		}},
		{name: "not WebAssembly", allowUnsigned: true, wantErr: plugins.ErrInvalid, make: func(t *testing.T, e *env) string {
			p := filepath.Join(e.dir, "junk.wasm")
			os.WriteFile(p, []byte("hello, I am not a module"), 0o644)
			return p
		}},
		{name: "no ABI marker", allowUnsigned: true, wantErr: wasm.ErrABI, make: func(t *testing.T, e *env) string {
			p := filepath.Join(e.dir, "empty.wasm")
			os.WriteFile(p, []byte("\x00asm\x01\x00\x00\x00"), 0o644)
			return p
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			src := tc.make(t, e)
			a, err := plugins.Fetch(ctx, src, plugins.FetchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p, _, err := e.store.Install(ctx, a, plugins.InstallOptions{AllowUnsigned: tc.allowUnsigned})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("install: got %v, want %v", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), src) {
					t.Errorf("error %q does not name the file %s", err, src)
				}
				if !strings.Contains(err.Error(), tc.wantHint) {
					t.Errorf("error %q does not say %q", err, tc.wantHint)
				}
				if all, _ := e.store.List(ctx); len(all) != 0 {
					t.Errorf("a refused plugin is listed: %+v", all)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.wantSigner(e); p.Signer != want {
				t.Errorf("signer %q, want %q", p.Signer, want)
			}
			if p.AllowedUnsigned != (p.Signer == plugins.Unsigned) || (p.AllowedUnsigned && p.TrustProblem == "") {
				t.Errorf("allowed-unsigned record inconsistent: %+v", p)
			}
			if p.Name != "pingpong" || p.Version != "1.0.0" || p.ABI != 1 || !p.Enabled || len(p.Manifest.Fields) != 2 {
				t.Errorf("metadata: %+v", p)
			}
			if p.Digest != plugins.Digest(a.Code) || p.Source != src {
				t.Errorf("digest %s source %s", p.Digest, p.Source)
			}
		})
	}
}

func TestStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, err := plugins.Fetch(ctx, e.module(t, "v1", e.priv, nil), plugins.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := e.store.Install(ctx, a, plugins.InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"pingpong", p.Digest, p.Digest[len("sha256:") : len("sha256:")+8]} {
		if got, err := e.store.Get(ctx, ref); err != nil || got.Digest != p.Digest {
			t.Errorf("Get(%q) = %v, %v", ref, got.Digest, err)
		}
	}
	if _, err := e.store.Get(ctx, "nope"); !errors.Is(err, plugins.ErrNotFound) {
		t.Errorf("Get(nope): %v", err)
	}

	if _, err := e.store.SetEnabled(ctx, "pingpong", false); err != nil {
		t.Fatal(err)
	}
	if ps, _, err := e.store.Enabled(ctx); err != nil || len(ps) != 0 {
		t.Errorf("disabled plugin still enabled: %v %v", ps, err)
	}
	if _, err := e.store.SetEnabled(ctx, "pingpong", true); err != nil {
		t.Fatal(err)
	}
	ps, as, err := e.store.Enabled(ctx)
	if err != nil || len(ps) != 1 || plugins.Digest(as[0].Code) != p.Digest || len(as[0].Sig) == 0 {
		t.Fatalf("enabled: %v %v", ps, err)
	}
	if _, k, err := e.store.Verify(ctx, "pingpong"); err != nil || k.ID != e.id {
		t.Errorf("verify: %v %v", k, err)
	}

	// A new version under the same name replaces the old one.
	a2, err := plugins.Fetch(ctx, e.module(t, "v2", e.priv, customSection), plugins.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p2, replaced, err := e.store.Install(ctx, a2, plugins.InstallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if replaced == nil || replaced.Digest != p.Digest || p2.Digest == p.Digest {
		t.Fatalf("replace: new %s replaced %+v", p2.Digest, replaced)
	}
	if all, _ := e.store.List(ctx); len(all) != 1 || all[0].Digest != p2.Digest {
		t.Fatalf("after replace: %+v", all)
	}

	// The stored bytes are checked against the digest they live under.
	mod := filepath.Join(e.dir, "plugins", strings.TrimPrefix(p2.Digest, "sha256:"), "module.wasm")
	good, _ := os.ReadFile(mod)
	os.WriteFile(mod, customSection(good), 0o644)
	if _, _, err := e.store.Enabled(ctx); !errors.Is(err, plugins.ErrDigest) {
		t.Errorf("changed module on disk: %v", err)
	}
	os.WriteFile(mod, good, 0o644)

	// Removing the key from the trust store makes verify fail.
	os.Remove(filepath.Join(e.trustDir, "alice.pub"))
	if _, _, err := e.store.Verify(ctx, "pingpong"); !errors.Is(err, plugins.ErrUntrusted) {
		t.Errorf("verify without the key: %v", err)
	}

	if _, err := e.store.Remove(ctx, "pingpong"); err != nil {
		t.Fatal(err)
	}
	if all, _ := e.store.List(ctx); len(all) != 0 {
		t.Fatalf("after remove: %+v", all)
	}
	if _, err := e.store.Remove(ctx, "pingpong"); !errors.Is(err, plugins.ErrNotFound) {
		t.Errorf("second remove: %v", err)
	}
}

func TestReservedName(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	st := plugins.Open(plugins.Options{Dir: filepath.Join(e.dir, "p2"), Trust: plugins.TrustStore{Dirs: []string{e.trustDir}}, Reserved: []string{"pingpong"}, CacheDir: cacheDir})
	a, err := plugins.Fetch(ctx, e.module(t, "r", e.priv, nil), plugins.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Install(ctx, a, plugins.InstallOptions{}); !errors.Is(err, plugins.ErrConflict) {
		t.Fatalf("install over a built-in's name: %v", err)
	}
}

// Every change a running tap or hub must notice changes the generation
// token; reading the store does not.
func TestGenerationChangesWithTheSet(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	gens := map[string]string{}
	gen := func(step string) {
		t.Helper()
		g, err := e.store.Generation()
		if err != nil {
			t.Fatal(err)
		}
		for prev, pg := range gens {
			if pg == g {
				t.Fatalf("generation after %s is the one after %s: %q", step, prev, g)
			}
		}
		gens[step] = g
	}
	gen("nothing")
	a, err := plugins.Fetch(ctx, e.module(t, "v1", e.priv, nil), plugins.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.Install(ctx, a, plugins.InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	gen("install")
	if _, err := e.store.List(ctx); err != nil {
		t.Fatal(err)
	}
	if g, _ := e.store.Generation(); g != gens["install"] {
		t.Fatalf("listing changed the generation")
	}
	if _, err := e.store.SetEnabled(ctx, "pingpong", false); err != nil {
		t.Fatal(err)
	}
	gen("disable")
	if _, err := e.store.SetEnabled(ctx, "pingpong", true); err != nil {
		t.Fatal(err)
	}
	gen("enable")
	if _, err := e.store.Remove(ctx, "pingpong"); err != nil {
		t.Fatal(err)
	}
	gen("remove")
	if all, err := e.store.List(ctx); err != nil || len(all) != 0 {
		t.Fatalf("the generation file shows as a plugin: %v %v", all, err)
	}
}
