package plugins

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage/kfl"
)

// ErrNotFound is wrapped by errors about a plugin that is not installed.
var ErrNotFound = errors.New("plugin not installed")

// ErrInvalid is wrapped by errors about a module the sandbox refuses: not
// WebAssembly, another ABI version, a broken manifest, or too large.
var ErrInvalid = errors.New("invalid plugin module")

// ErrDigest is wrapped by errors about bytes whose sha256 is not the one
// expected: a pinned --sha256, an OCI digest, or a stored module changed on
// disk.
var ErrDigest = errors.New("plugin digest mismatch")

// ErrConflict is wrapped by errors about a plugin named like a built-in
// dissector.
var ErrConflict = errors.New("plugin name conflict")

// MaxModuleSize bounds a module's size; the built-ins are 3–4 MiB.
const MaxModuleSize = 64 << 20

// Unsigned is what Plugin.Signer says of a plugin installed without a
// trusted signature.
const Unsigned = "unsigned (allowed with --allow-unsigned)"

// Plugin is one installed plugin's metadata.
type Plugin struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// ABI is the dissector ABI version the module exports.
	ABI int `json:"abi_version"`
	// Digest is "sha256:" and the hex sha256 of the module's bytes: the
	// plugin's identity in the store.
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	// Source is where it was installed from (a path, URL or oci:// ref).
	Source      string    `json:"source"`
	InstalledAt time.Time `json:"installed_at"`
	// Signer is the trusted key id that signed the module, or Unsigned.
	Signer string `json:"signer"`
	// SignerKey is the trust store file of the signing key.
	SignerKey string `json:"signer_key,omitempty"`
	// AllowedUnsigned records that --allow-unsigned let the install
	// through, and TrustProblem why it was needed.
	AllowedUnsigned bool   `json:"allowed_unsigned,omitempty"`
	TrustProblem    string `json:"trust_problem,omitempty"`
	Enabled         bool   `json:"enabled"`
	// Ports are pinned to this plugin (kubeshark plugin enable --port):
	// connections on them go to it without probing, as with
	// --decode-as PORT=NAME.
	Ports []uint16 `json:"ports,omitempty"`
	// Manifest is what the module said about itself at install.
	Manifest sdk.Manifest `json:"manifest"`
}

// ShortDigest is the first 12 hex digits of the digest, as listings show it.
func (p Plugin) ShortDigest() string {
	h := strings.TrimPrefix(p.Digest, "sha256:")
	return "sha256:" + h[:min(12, len(h))]
}

// Artifact is a module as fetched, before it is installed.
type Artifact struct {
	Code []byte
	// Sig is its minisign signature, nil when none came with it.
	Sig []byte
	// Source says where it came from, for errors and metadata.
	Source string
}

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Options configures a Store.
type Options struct {
	// Dir is the store's directory (<data>/plugins).
	Dir string
	// Trust is the trust store install checks signatures against.
	Trust TrustStore
	// Reserved are names a plugin may not take (the built-in dissectors).
	Reserved []string
	// CacheDir is the wasm compilation cache validation compiles into, so
	// that the first import after an install finds the module compiled.
	CacheDir string
	Logger   *slog.Logger
}

// Store is the plugin store in a data directory. Its methods may be called
// from several goroutines; two processes changing it at once may lose one
// metadata change (each write is atomic).
type Store struct {
	opts Options
}

// Open returns the store in opts.Dir, creating the directory on first
// install.
func Open(opts Options) *Store {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Store{opts: opts}
}

// Trust returns the store's trust store.
func (s *Store) Trust() TrustStore { return s.opts.Trust }

// Validate loads code in a fresh wasm sandbox, as imports will, and returns
// its manifest. Errors wrap ErrInvalid (and wasm.ErrABI for an ABI
// mismatch) and name source.
func Validate(ctx context.Context, source string, code []byte, cacheDir string) (sdk.Manifest, error) {
	if len(code) > MaxModuleSize {
		return sdk.Manifest{}, fmt.Errorf("%w: %s is %d bytes, more than the %d a plugin may have", ErrInvalid, source, len(code), MaxModuleSize)
	}
	rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: cacheDir})
	if err != nil {
		return sdk.Manifest{}, err
	}
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, source, code)
	if err != nil {
		return sdk.Manifest{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	defer m.Close(ctx)
	// The manifest's fields become filter variables wherever the plugin's
	// records go; a manifest the filter language cannot take would stop
	// the MCP server from starting.
	if _, err := kfl.NewEnv([]sdk.Manifest{m.Manifest()}); err != nil {
		return sdk.Manifest{}, fmt.Errorf("%w: %s: its manifest's fields cannot be filter variables: %w", ErrInvalid, source, err)
	}
	return m.Manifest(), nil
}

// InstallOptions are the choices of one install.
type InstallOptions struct {
	// AllowUnsigned installs a module that is unsigned or signed by an
	// untrusted key, and records that it did. A signature that does not
	// verify is refused regardless.
	AllowUnsigned bool
	// Disabled installs without enabling.
	Disabled bool
}

// Install checks an artifact's signature and module and adds it to the
// store. An installed plugin of the same name and another digest is
// replaced: a name stands for one dissector at a time. It returns the new
// plugin and the one it replaced, if any.
func (s *Store) Install(ctx context.Context, a Artifact, o InstallOptions) (installed Plugin, replaced *Plugin, err error) {
	if len(a.Code) == 0 {
		return Plugin{}, nil, fmt.Errorf("%w: %s is empty", ErrInvalid, a.Source)
	}
	p := Plugin{Digest: Digest(a.Code), Size: int64(len(a.Code)), Source: a.Source, InstalledAt: time.Now().UTC().Truncate(time.Second), Enabled: !o.Disabled}
	key, terr := s.opts.Trust.Check(a.Code, a.Sig)
	switch {
	case terr == nil:
		p.Signer, p.SignerKey = key.ID, key.Path
	case errors.Is(terr, ErrBadSignature):
		return Plugin{}, nil, fmt.Errorf("%s: %w", a.Source, terr)
	case errors.Is(terr, ErrUnsigned), errors.Is(terr, ErrUntrusted):
		if !o.AllowUnsigned {
			sign := ""
			if errors.Is(terr, ErrUnsigned) {
				// The untrusted key's error already says how to trust it.
				sign = "; sign it with `kubeshark plugin sign FILE.wasm --key KEY.key`, which writes FILE.wasm.minisig to keep beside it (`kubeshark plugin keygen --trust` makes a key)"
			}
			return Plugin{}, nil, fmt.Errorf("%s: %w; refusing to install it (--allow-unsigned installs it anyway, at your own risk)%s", a.Source, terr, sign)
		}
		p.Signer, p.AllowedUnsigned, p.TrustProblem = Unsigned, true, terr.Error()
	default:
		return Plugin{}, nil, terr
	}
	m, err := Validate(ctx, a.Source, a.Code, s.opts.CacheDir)
	if err != nil {
		return Plugin{}, nil, err
	}
	if slices.Contains(s.opts.Reserved, m.Name) {
		return Plugin{}, nil, fmt.Errorf("%w: %s is named %q like a built-in dissector; a plugin needs a name of its own", ErrConflict, a.Source, m.Name)
	}
	p.Name, p.Version, p.ABI, p.Manifest = m.Name, m.Version, sdk.ABIVersion, m

	all, err := s.List(ctx)
	if err != nil {
		return Plugin{}, nil, err
	}
	if err := s.write(p, a); err != nil {
		return Plugin{}, nil, err
	}
	for _, old := range all {
		if old.Name == p.Name && old.Digest != p.Digest {
			if err := os.RemoveAll(s.dir(old)); err != nil {
				return p, nil, fmt.Errorf("plugin %s: removing the replaced version %s: %w", old.Name, old.ShortDigest(), err)
			}
			replaced = &old
		}
	}
	return p, replaced, s.bump()
}

// generationFile is rewritten after every change to the installed or
// enabled plugins, so that a running tap or hub notices a change by
// reading one small file (see Generation) instead of every plugin's
// metadata.
const generationFile = ".generation"

// Generation returns a token that changes whenever a plugin is installed,
// enabled, disabled or removed, by this process or another: "" before the
// first change. Compare tokens for equality; they are not ordered.
func (s *Store) Generation() (string, error) {
	b, err := os.ReadFile(filepath.Join(s.opts.Dir, generationFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("plugin store %s: %w", s.opts.Dir, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// bump writes a new generation token. It holds the time in nanoseconds
// and a random part, so that two processes changing the store at once
// never write the same token twice in a row.
func (s *Store) bump() error {
	var r [8]byte
	rand.Read(r[:])
	tok := fmt.Sprintf("%d-%x\n", time.Now().UnixNano(), r)
	tmp, err := os.CreateTemp(s.opts.Dir, ".generation-")
	if err != nil {
		return fmt.Errorf("plugin store %s: %w", s.opts.Dir, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(tok); err != nil {
		tmp.Close()
		return fmt.Errorf("plugin store %s: %w", s.opts.Dir, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("plugin store %s: %w", s.opts.Dir, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.opts.Dir, generationFile)); err != nil {
		return fmt.Errorf("plugin store %s: %w", s.opts.Dir, err)
	}
	return nil
}

func (s *Store) dir(p Plugin) string {
	return filepath.Join(s.opts.Dir, strings.TrimPrefix(p.Digest, "sha256:"))
}

// write stores a plugin in a fresh directory and renames it into place, so
// a crash leaves either the old state or the new one.
func (s *Store) write(p Plugin, a Artifact) error {
	if err := os.MkdirAll(s.opts.Dir, 0o755); err != nil {
		return fmt.Errorf("plugin store %s: %w", s.opts.Dir, err)
	}
	tmp, err := os.MkdirTemp(s.opts.Dir, ".install-")
	if err != nil {
		return fmt.Errorf("plugin store %s: %w", s.opts.Dir, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "module.wasm"), a.Code, 0o644); err != nil {
		return fmt.Errorf("plugin store: %w", err)
	}
	if len(a.Sig) > 0 {
		if err := os.WriteFile(filepath.Join(tmp, "module.wasm.minisig"), a.Sig, 0o644); err != nil {
			return fmt.Errorf("plugin store: %w", err)
		}
	}
	if err := writeMeta(tmp, p); err != nil {
		return err
	}
	dst := s.dir(p)
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("plugin store: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("plugin store: %w", err)
	}
	return nil
}

func writeMeta(dir string, p Plugin) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".plugin.json")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("plugin store: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "plugin.json")); err != nil {
		return fmt.Errorf("plugin store: %w", err)
	}
	return nil
}

// List returns the installed plugins sorted by name.
func (s *Store) List(ctx context.Context) ([]Plugin, error) {
	entries, err := os.ReadDir(s.opts.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("plugin store %s: %w", s.opts.Dir, err)
	}
	var out []Plugin
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := filepath.Join(s.opts.Dir, e.Name(), "plugin.json")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("plugin store: %w", err)
		}
		var p Plugin
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("plugin store: %s: %w", path, err)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get finds an installed plugin by name, by digest ("sha256:…") or by a
// prefix of the digest's hex of at least 6 digits.
func (s *Store) Get(ctx context.Context, ref string) (Plugin, error) {
	all, err := s.List(ctx)
	if err != nil {
		return Plugin{}, err
	}
	hexRef := strings.TrimPrefix(ref, "sha256:")
	var found []Plugin
	for _, p := range all {
		h := strings.TrimPrefix(p.Digest, "sha256:")
		if p.Name == ref || p.Digest == ref || (len(hexRef) >= 6 && strings.HasPrefix(h, hexRef)) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return Plugin{}, fmt.Errorf("%w: %q (kubeshark plugin list shows what is)", ErrNotFound, ref)
	case 1:
		return found[0], nil
	}
	return Plugin{}, fmt.Errorf("plugin %q is ambiguous: it matches %d plugins; give more of the digest", ref, len(found))
}

// SetEnabled enables or disables an installed plugin.
func (s *Store) SetEnabled(ctx context.Context, ref string, enabled bool) (Plugin, error) {
	p, err := s.Get(ctx, ref)
	if err != nil {
		return Plugin{}, err
	}
	p.Enabled = enabled
	if err := writeMeta(s.dir(p), p); err != nil {
		return Plugin{}, err
	}
	return p, s.bump()
}

// SetPorts pins ports to an installed plugin (none unpins): while it is
// enabled, connections on them are dissected by it without probing.
func (s *Store) SetPorts(ctx context.Context, ref string, ports []uint16) (Plugin, error) {
	p, err := s.Get(ctx, ref)
	if err != nil {
		return Plugin{}, err
	}
	p.Ports = slices.Clone(ports)
	slices.Sort(p.Ports)
	p.Ports = slices.Compact(p.Ports)
	if err := writeMeta(s.dir(p), p); err != nil {
		return Plugin{}, err
	}
	return p, s.bump()
}

// Remove deletes an installed plugin. Records it produced stay in the
// record store, with its manifest.
func (s *Store) Remove(ctx context.Context, ref string) (Plugin, error) {
	p, err := s.Get(ctx, ref)
	if err != nil {
		return Plugin{}, err
	}
	if err := os.RemoveAll(s.dir(p)); err != nil {
		return Plugin{}, fmt.Errorf("removing plugin %s: %w", p.Name, err)
	}
	return p, s.bump()
}

// Module returns an installed plugin's bytes and signature, after checking
// that the bytes still have the digest they were installed under.
func (s *Store) Module(p Plugin) (Artifact, error) {
	path := filepath.Join(s.dir(p), "module.wasm")
	code, err := os.ReadFile(path)
	if err != nil {
		return Artifact{}, fmt.Errorf("plugin %s: %w", p.Name, err)
	}
	if d := Digest(code); d != p.Digest {
		return Artifact{}, fmt.Errorf("%w: plugin %s: %s has %s, installed as %s: the file was changed after install; reinstall it", ErrDigest, p.Name, path, d, p.Digest)
	}
	sig, err := os.ReadFile(filepath.Join(s.dir(p), "module.wasm.minisig"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Artifact{}, fmt.Errorf("plugin %s: %w", p.Name, err)
	}
	return Artifact{Code: code, Sig: sig, Source: p.Source}, nil
}

// Enabled returns the enabled plugins with their modules, for the commands
// that dissect.
func (s *Store) Enabled(ctx context.Context) ([]Plugin, []Artifact, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	var ps []Plugin
	var as []Artifact
	for _, p := range all {
		if !p.Enabled {
			continue
		}
		a, err := s.Module(p)
		if err != nil {
			return nil, nil, err
		}
		ps = append(ps, p)
		as = append(as, a)
	}
	return ps, as, nil
}

// Verify checks an installed plugin again: its bytes against its digest,
// its signature against today's trust store, and its module in the sandbox.
// It returns the key that signed it.
func (s *Store) Verify(ctx context.Context, ref string) (Plugin, TrustedKey, error) {
	p, err := s.Get(ctx, ref)
	if err != nil {
		return Plugin{}, TrustedKey{}, err
	}
	a, err := s.Module(p)
	if err != nil {
		return p, TrustedKey{}, err
	}
	k, err := s.opts.Trust.Check(a.Code, a.Sig)
	if err != nil {
		return p, TrustedKey{}, fmt.Errorf("plugin %s: %w", p.Name, err)
	}
	if _, err := Validate(ctx, p.Source, a.Code, s.opts.CacheDir); err != nil {
		return p, k, err
	}
	return p, k, nil
}
