package plugins

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// FetchOptions configure Fetch.
type FetchOptions struct {
	// SHA256 pins the module's digest (hex, with or without "sha256:").
	SHA256 string
	// HTTPClient fetches https:// sources; nil uses http.DefaultClient.
	HTTPClient *http.Client
	// OCI configures oci:// sources.
	OCI OCIOptions
}

// Fetch reads a plugin from src: a .wasm file (with FILE.minisig or
// FILE.wasm.minisig beside it), a directory or .tar.gz holding exactly one
// .wasm, an https:// URL (its signature at URL.minisig), or
// oci://REGISTRY/REPO:TAG or @DIGEST.
func Fetch(ctx context.Context, src string, o FetchOptions) (Artifact, error) {
	var a Artifact
	var err error
	switch {
	case strings.HasPrefix(src, "oci://"):
		a, err = PullOCI(ctx, src, o.OCI)
	case strings.HasPrefix(src, "https://"):
		a, err = fetchHTTPS(ctx, src, o.HTTPClient)
	case strings.HasPrefix(src, "http://"):
		return Artifact{}, fmt.Errorf("%s: plain http is not accepted for plugins; use an https:// URL", src)
	default:
		a, err = fetchLocal(src)
	}
	if err != nil {
		return Artifact{}, err
	}
	if o.SHA256 != "" {
		want := "sha256:" + strings.ToLower(strings.TrimPrefix(o.SHA256, "sha256:"))
		if got := Digest(a.Code); got != want {
			return Artifact{}, fmt.Errorf("%w: %s has %s, --sha256 pins %s", ErrDigest, src, got, want)
		}
	}
	return a, nil
}

func fetchLocal(src string) (Artifact, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return Artifact{}, fmt.Errorf("plugin source %s: %w", src, err)
	}
	switch {
	case fi.IsDir():
		return fetchDir(src)
	case strings.HasSuffix(src, ".tar.gz") || strings.HasSuffix(src, ".tgz"):
		return fetchTarGz(src)
	case strings.HasSuffix(src, ".wasm"):
		return readWasmFile(src)
	}
	return Artifact{}, fmt.Errorf("plugin source %s: want a .wasm file, a directory, a .tar.gz, an https:// URL or an oci:// reference", src)
}

func readWasmFile(p string) (Artifact, error) {
	code, err := readLimited(p)
	if err != nil {
		return Artifact{}, err
	}
	a := Artifact{Code: code, Source: p}
	for _, sp := range sigNames(p) {
		sig, err := os.ReadFile(sp)
		if err == nil {
			a.Sig = sig
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return Artifact{}, fmt.Errorf("signature %s: %w", sp, err)
		}
	}
	return a, nil
}

// sigNames are where a module's signature may be: minisign's FILE.minisig
// convention (x.wasm.minisig) first, then x.minisig.
func sigNames(p string) []string {
	return []string{p + ".minisig", strings.TrimSuffix(p, ".wasm") + ".minisig"}
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("plugin module: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxModuleSize+1))
	if err != nil {
		return nil, fmt.Errorf("plugin module %s: %w", p, err)
	}
	if len(b) > MaxModuleSize {
		return nil, fmt.Errorf("%w: %s is larger than the %d bytes a plugin may have", ErrInvalid, p, MaxModuleSize)
	}
	return b, nil
}

func fetchDir(dir string) (Artifact, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil {
		return Artifact{}, err
	}
	switch len(matches) {
	case 0:
		return Artifact{}, fmt.Errorf("plugin source %s: the directory holds no .wasm module", dir)
	case 1:
		return readWasmFile(matches[0])
	}
	return Artifact{}, fmt.Errorf("plugin source %s: the directory holds %d .wasm modules (%s); name the one to install", dir, len(matches), strings.Join(matches, ", "))
}

func fetchTarGz(p string) (Artifact, error) {
	f, err := os.Open(p)
	if err != nil {
		return Artifact{}, fmt.Errorf("plugin source: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return Artifact{}, fmt.Errorf("plugin source %s: not a gzip file: %w", p, err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	var wasms []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Artifact{}, fmt.Errorf("plugin source %s: not a tar archive: %w", p, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(h.Name)
		if !strings.HasSuffix(name, ".wasm") && !strings.HasSuffix(name, ".minisig") {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, MaxModuleSize+1))
		if err != nil {
			return Artifact{}, fmt.Errorf("plugin source %s: %s: %w", p, h.Name, err)
		}
		if len(b) > MaxModuleSize {
			return Artifact{}, fmt.Errorf("%w: %s in %s is larger than the %d bytes a plugin may have", ErrInvalid, h.Name, p, MaxModuleSize)
		}
		files[name] = b
		if strings.HasSuffix(name, ".wasm") {
			wasms = append(wasms, name)
		}
	}
	switch len(wasms) {
	case 0:
		return Artifact{}, fmt.Errorf("plugin source %s: the archive holds no .wasm module", p)
	case 1:
	default:
		return Artifact{}, fmt.Errorf("plugin source %s: the archive holds %d .wasm modules (%s); it must hold one", p, len(wasms), strings.Join(wasms, ", "))
	}
	a := Artifact{Code: files[wasms[0]], Source: p}
	for _, sp := range sigNames(wasms[0]) {
		if sig, ok := files[sp]; ok {
			a.Sig = sig
			break
		}
	}
	return a, nil
}

func fetchHTTPS(ctx context.Context, u string, c *http.Client) (Artifact, error) {
	if c == nil {
		c = http.DefaultClient
	}
	code, err := httpGet(ctx, c, u, MaxModuleSize)
	if err != nil {
		return Artifact{}, err
	}
	if code == nil {
		return Artifact{}, fmt.Errorf("plugin source %s: not found (404)", u)
	}
	sig, err := httpGet(ctx, c, u+".minisig", 64<<10)
	if err != nil {
		return Artifact{}, err
	}
	return Artifact{Code: code, Sig: sig, Source: u}, nil
}

// httpGet returns the body, or nil for a 404.
func httpGet(ctx context.Context, c *http.Client, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("plugin source %s: %w", u, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("plugin source: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("plugin source %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("plugin source %s: %w", u, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalid, u, limit)
	}
	return b, nil
}
