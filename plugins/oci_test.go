package plugins_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/plugins"
	"github.com/kubeshark-wasm/kubeshark/plugins/plugintest"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func pingpongManifest() sdk.Manifest {
	return sdk.Manifest{Name: "pingpong", Version: "1.0.0", Protocols: []string{"pingpong"}, Transports: []string{"tcp"}}
}

// TestOCIRoundTrip pushes a signed plugin to a registry on loopback, pulls
// it by tag and by digest, and installs it.
func TestOCIRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	mod := e.module(t, "oci", e.priv, nil)
	a, err := plugins.Fetch(ctx, mod, plugins.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := plugintest.Registry(t, nil)
	ref := "oci://" + reg + "/team/pingpong:1.0.0"
	dig, err := plugins.PushOCI(ctx, ref, a, pingpongManifest(), plugins.OCIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{ref, "oci://" + reg + "/team/pingpong@" + dig} {
		got, err := plugins.Fetch(ctx, r, plugins.FetchOptions{})
		if err != nil {
			t.Fatalf("pull %s: %v", r, err)
		}
		if !bytes.Equal(got.Code, a.Code) || !bytes.Equal(got.Sig, a.Sig) {
			t.Fatalf("pull %s: other bytes", r)
		}
		if want := "oci://" + reg + "/team/pingpong@" + dig; got.Source != want {
			t.Errorf("source %q, want %q (pinned to the digest)", got.Source, want)
		}
		p, _, err := e.store.Install(ctx, got, plugins.InstallOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Signer != e.id {
			t.Errorf("signer %q", p.Signer)
		}
	}

	// The manifest carries what the issue asks for.
	resp, err := http.Get("http://" + reg + "/v2/team/pingpong/manifests/1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{plugins.ArtifactType, plugins.ConfigMediaType, `"application/wasm"`, plugins.SignatureMediaType,
		`"io.kubeshark.plugin.name":"pingpong"`, `"io.kubeshark.plugin.version":"1.0.0"`, `"io.kubeshark.plugin.abi":"1"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("manifest lacks %s:\n%s", want, body)
		}
	}

	if _, err := plugins.Fetch(ctx, "oci://"+reg+"/team/pingpong:nope", plugins.FetchOptions{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing tag: %v", err)
	}
	if _, err := plugins.Fetch(ctx, "oci://"+reg+"/team/pingpong", plugins.FetchOptions{}); err == nil || !strings.Contains(err.Error(), "name a tag") {
		t.Errorf("no tag: %v", err)
	}
}

// lie wraps a registry so that, once lying is set, requests for one path
// get other bytes (edit) or the answer for another path (redirect).
func lie(lying *atomic.Bool, path string, edit func([]byte) []byte, redirect string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !lying.Load() || r.URL.Path != path {
				h.ServeHTTP(w, r)
				return
			}
			if redirect != "" {
				r.URL.Path = redirect
				h.ServeHTTP(w, r)
				return
			}
			if r.Method != http.MethodGet {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(edit(rec.Body.Bytes()))
		})
	}
}

func TestOCIRefusesLyingRegistry(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	mod := e.module(t, "oci", e.priv, nil)
	a, err := plugins.Fetch(ctx, mod, plugins.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := a
	other.Code = customSection(a.Code)
	flip := func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/2] ^= 1; return b }

	// Push the real thing to an honest registry to learn the digests.
	honest := plugintest.Registry(t, nil)
	dig, err := plugins.PushOCI(ctx, "oci://"+honest+"/p:v1", a, pingpongManifest(), plugins.OCIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	otherDig, err := plugins.PushOCI(ctx, "oci://"+honest+"/p:v2", other, pingpongManifest(), plugins.OCIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var otherManifest []byte
	if resp, err := http.Get("http://" + honest + "/v2/p/manifests/" + otherDig); err == nil {
		otherManifest, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	sig, _ := os.ReadFile(mod + ".minisig")
	badSig := bytes.Replace(sig, []byte("\n"), []byte("\nZ"), 1)

	tests := []struct {
		name     string
		path     string // the request the registry lies on
		edit     func([]byte) []byte
		redirect string
		ref      func(reg string) string
		// pullErr is what the pull must fail with; with none, the
		// install must fail with installErr.
		pullErr, installErr error
	}{
		{name: "module blob altered", path: "/v2/p/blobs/" + plugins.Digest(a.Code), edit: flip,
			ref: func(reg string) string { return "oci://" + reg + "/p:v1" }, pullErr: plugins.ErrDigest},
		{name: "manifest bytes differ from the digest the tag resolved to", path: "/v2/p/manifests/" + dig, edit: func([]byte) []byte { return otherManifest },
			ref: func(reg string) string { return "oci://" + reg + "/p:v1" }, pullErr: plugins.ErrDigest},
		{name: "a pinned digest answered with another manifest", path: "/v2/p/manifests/" + dig, redirect: "/v2/p/manifests/" + otherDig,
			ref: func(reg string) string { return "oci://" + reg + "/p@" + dig }, pullErr: plugins.ErrDigest},
		{name: "signature layer altered", path: "/v2/p/blobs/" + plugins.Digest(sig), edit: flip,
			ref: func(reg string) string { return "oci://" + reg + "/p:v1" }, pullErr: plugins.ErrDigest},
		{name: "pushed with a tampered signature", ref: func(reg string) string { return "oci://" + reg + "/p:v1" }, installErr: plugins.ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lying atomic.Bool
			var wrap func(http.Handler) http.Handler
			if tc.path != "" {
				wrap = lie(&lying, tc.path, tc.edit, tc.redirect)
			}
			reg := plugintest.Registry(t, wrap)
			push := a
			if tc.installErr != nil {
				push.Sig = badSig
			}
			if _, err := plugins.PushOCI(ctx, "oci://"+reg+"/p:v1", push, pingpongManifest(), plugins.OCIOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := plugins.PushOCI(ctx, "oci://"+reg+"/p:v2", other, pingpongManifest(), plugins.OCIOptions{}); err != nil {
				t.Fatal(err)
			}
			lying.Store(true)
			got, err := plugins.Fetch(ctx, tc.ref(reg), plugins.FetchOptions{})
			if tc.pullErr != nil {
				if !errors.Is(err, tc.pullErr) {
					t.Fatalf("pull: got %v, want %v", err, tc.pullErr)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = e.store.Install(ctx, got, plugins.InstallOptions{AllowUnsigned: true})
			if !errors.Is(err, tc.installErr) {
				t.Fatalf("install: got %v, want %v", err, tc.installErr)
			}
		})
	}
}

// Pushing the same plugin twice, at different times and to different
// registries, gives the same manifest digest: the created stamp is fixed
// unless asked for, so a digest pins content, not the second of the push
// (the lying-registry test depends on it too).
func TestOCIPushIsReproducible(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, err := plugins.Fetch(ctx, e.module(t, "oci", e.priv, nil), plugins.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := plugins.PushOCI(ctx, "oci://"+plugintest.Registry(t, nil)+"/p:v1", a, pingpongManifest(), plugins.OCIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := plugintest.Registry(t, nil)
	second, err := plugins.PushOCI(ctx, "oci://"+reg+"/q:v2", a, pingpongManifest(), plugins.OCIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("same plugin pushed twice: digests %s and %s", first, second)
	}
	stamped, err := plugins.PushOCI(ctx, "oci://"+reg+"/q:v3", a, pingpongManifest(),
		plugins.OCIOptions{Created: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if stamped == first {
		t.Errorf("an explicit created time did not change the digest %s", first)
	}
	resp, err := http.Get("http://" + reg + "/v2/q/manifests/v3")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"org.opencontainers.image.created":"2026-12-06T10:00:00Z"`) {
		t.Errorf("manifest lacks the created time asked for:\n%s", body)
	}
}
