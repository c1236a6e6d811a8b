package plugins_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/plugins"
)

func writeTarGz(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for name, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
}

func TestFetchSources(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	mod := e.module(t, "src", e.priv, nil)
	code, _ := os.ReadFile(mod)
	sig, _ := os.ReadFile(mod + ".minisig")

	tgz := filepath.Join(e.dir, "plugin.tar.gz")
	writeTarGz(t, tgz, map[string][]byte{"pingpong/pingpong.wasm": code, "pingpong/pingpong.wasm.minisig": sig, "pingpong/README": []byte("hi")})
	twoTgz := filepath.Join(e.dir, "two.tar.gz")
	writeTarGz(t, twoTgz, map[string][]byte{"a.wasm": code, "b.wasm": code})
	twoDir := filepath.Join(e.dir, "twodir")
	os.MkdirAll(twoDir, 0o755)
	os.WriteFile(filepath.Join(twoDir, "a.wasm"), code, 0o644)
	os.WriteFile(filepath.Join(twoDir, "b.wasm"), code, 0o644)
	// minisign's other naming: x.minisig beside x.wasm.
	altDir := filepath.Join(e.dir, "alt")
	os.MkdirAll(altDir, 0o755)
	os.WriteFile(filepath.Join(altDir, "pp.wasm"), code, 0o644)
	os.WriteFile(filepath.Join(altDir, "pp.minisig"), sig, 0o644)

	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/p.wasm":
			w.Write(code)
		case "/p.wasm.minisig":
			w.Write(sig)
		case "/nosig.wasm":
			w.Write(code)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	tests := []struct {
		name    string
		src     string
		pin     string
		wantSig bool
		wantErr string
		is      error
	}{
		{name: "wasm file", src: mod, wantSig: true},
		{name: "directory", src: filepath.Dir(mod), wantSig: true},
		{name: "x.minisig beside x.wasm", src: altDir, wantSig: true},
		{name: "tar.gz", src: tgz, wantSig: true},
		{name: "https", src: srv.URL + "/p.wasm", wantSig: true},
		{name: "https without signature", src: srv.URL + "/nosig.wasm"},
		{name: "https pinned", src: srv.URL + "/p.wasm", pin: plugins.Digest(code), wantSig: true},
		{name: "https pinned to other bytes", src: srv.URL + "/p.wasm", pin: strings.Repeat("ab", 32), is: plugins.ErrDigest, wantErr: "--sha256 pins"},
		{name: "https 404", src: srv.URL + "/missing.wasm", wantErr: "not found"},
		{name: "plain http", src: "http://127.0.0.1:1/p.wasm", wantErr: "plain http is not accepted"},
		{name: "two modules in a tar.gz", src: twoTgz, wantErr: "holds 2 .wasm modules"},
		{name: "two modules in a directory", src: twoDir, wantErr: "holds 2 .wasm modules"},
		{name: "missing file", src: filepath.Join(e.dir, "nope.wasm"), wantErr: "no such file", is: os.ErrNotExist},
		{name: "not a module", src: e.dir + "/keys/alice.pub", wantErr: "want a .wasm file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := plugins.Fetch(ctx, tc.src, plugins.FetchOptions{SHA256: tc.pin, HTTPClient: srv.Client()})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.src) {
					t.Fatalf("got %v, want an error naming %s with %q", err, tc.src, tc.wantErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Fatalf("%v is not %v", err, tc.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if plugins.Digest(a.Code) != plugins.Digest(code) {
				t.Errorf("fetched other bytes")
			}
			if (len(a.Sig) > 0) != tc.wantSig || (tc.wantSig && string(a.Sig) != string(sig)) {
				t.Errorf("signature %q", a.Sig)
			}
		})
	}
}
