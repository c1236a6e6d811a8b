package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/plugins"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// trustDirs are the trust store's directories: the data directory's, then
// the machine's.
func trustDirs(g *globals) []string {
	return []string{filepath.Join(g.dataDir, "trusted-keys"), plugins.SystemTrustDir}
}

func pluginStore(g *globals, reserved []string) *plugins.Store {
	return plugins.Open(plugins.Options{
		Dir:      filepath.Join(g.dataDir, "plugins"),
		Trust:    plugins.TrustStore{Dirs: trustDirs(g)},
		Reserved: reserved,
		CacheDir: g.wasmCacheDir(),
		Logger:   g.logger(),
	})
}

// longDigest is a sha256 digest in full, as an oci:// source pinned by
// digest carries it.
var longDigest = regexp.MustCompile(`sha256:([0-9a-f]{12})[0-9a-f]{52}`)

// shortDigests shortens the full digests in a source to 12 hex digits, as
// the DIGEST columns show them, so that tables fit a terminal; JSON
// outputs and inspect keep them whole.
func shortDigests(source string) string {
	return longDigest.ReplaceAllString(source, "sha256:${1}…")
}

// pluginSource is how listings name a loaded plugin.
func pluginSource(p plugins.Plugin) string {
	return "plugin " + p.ShortDigest() + " from " + p.Source
}

func newPluginCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Install, sign, verify and publish dissector plugins",
		Long: `Plugins are dissector modules (WebAssembly, ABI v1) installed beside the
built-in dissectors. Every command that dissects (import, and a running tap,
which picks up changes within a second) loads the enabled ones; their
fields work in filters (calls --filter, calls --filter-help, MCP).

Installed plugins live in DATA/plugins under their sha256 digest. A plugin
must carry a minisign signature by a key of the trust store
(DATA/trusted-keys/*.pub and /etc/kubeshark/trusted-keys/*.pub) unless it
is installed with --allow-unsigned.

A new plugin, from nothing to a query:

  kubeshark plugin new myproto --lang go     # or c, rust: a working project in ./myproto
  kubeshark plugin build myproto             # → myproto/myproto.wasm
  sudo myproto/testdata/capture.sh myproto/testdata/sample.pcap   # real traffic, with tcpdump
  kubeshark plugin test --update myproto     # its records → myproto/testdata/records.golden
  kubeshark plugin keygen --out ~/.kubeshark-keys/me --trust   # once; password in $KUBESHARK_PLUGIN_KEY_PASSWORD (or --no-password)
  kubeshark plugin sign myproto/myproto.wasm --key ~/.kubeshark-keys/me.key
  kubeshark plugin push myproto/myproto.wasm oci://REGISTRY/REPO:TAG
  kubeshark plugin install oci://REGISTRY/REPO:TAG     # or the .wasm, with its .minisig beside it
  kubeshark import capture.pcap && kubeshark calls --filter 'myproto && myproto_n > 1'`,
	}
	cmd.AddCommand(newPluginInstallCmd(g), newPluginListCmd(g), newPluginInspectCmd(g),
		newPluginEnableCmd(g, true), newPluginEnableCmd(g, false), newPluginRemoveCmd(g),
		newPluginVerifyCmd(g), newPluginKeygenCmd(g), newPluginSignCmd(), newPluginTrustCmd(g), newPluginPushCmd(g),
		newPluginNewCmd(), newPluginBuildCmd(), newPluginTestCmd())
	return cmd
}

func newPluginInstallCmd(g *globals) *cobra.Command {
	var o plugins.InstallOptions
	var pin, output string
	var plainHTTP bool
	var remote remoteOpts
	cmd := &cobra.Command{
		Use:   "install SRC",
		Short: "Install a plugin from a .wasm, a directory, a .tar.gz, an https:// URL or oci://REGISTRY/REPO:TAG|@DIGEST",
		Long: `Installs a plugin after checking it:
  - its signature (FILE.wasm.minisig beside a file, URL.minisig beside a URL,
    the signature layer of an OCI artifact) must verify with a trusted key;
    --allow-unsigned installs an unsigned or untrusted one anyway and records
    it, but a signature that does not match the module is always refused;
  - it must load in the sandbox: WebAssembly, ABI v1, a valid manifest.
A plugin with the name of an installed one replaces it.

A running kubeshark tap or hub on the same data directory picks the change
up within a second: connections opened afterwards use the new set.

With --url (and --token), SRC is fetched here and installed into the
running hub at that URL, which checks the signature with its own trust
store; the hub must have been started with --allow-destructive.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			c, err := remote.client(g.logger())
			if err != nil {
				return err
			}
			return runPluginInstall(cmd.Context(), g, c, args[0], pin, plainHTTP, o, output, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	remote.flags(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.AllowUnsigned, "allow-unsigned", false, "install a plugin that is unsigned or signed by an untrusted key (recorded; inspect shows it)")
	f.BoolVar(&o.Disabled, "disabled", false, "install without enabling it")
	f.StringVar(&pin, "sha256", "", "refuse the module unless its sha256 is this (hex)")
	f.BoolVar(&plainHTTP, "plain-http", false, "talk plain http to the OCI registry (always so for loopback registries)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runPluginInstall(ctx context.Context, g *globals, c *hubClient, src, pin string, plainHTTP bool, o plugins.InstallOptions, output string, w, ew io.Writer) error {
	a, err := plugins.Fetch(ctx, src, plugins.FetchOptions{SHA256: pin, OCI: plugins.OCIOptions{PlainHTTP: plainHTTP}})
	if err != nil {
		return err
	}
	var p plugins.Plugin
	var replaced *plugins.Plugin
	var nodes []string
	if c != nil {
		res, err := c.install(ctx, a, o)
		if err != nil {
			return err
		}
		p, replaced, nodes = res.Installed, res.Replaced, res.Nodes
	} else {
		reserved, err := builtinNames(ctx, g)
		if err != nil {
			return err
		}
		if p, replaced, err = pluginStore(g, reserved).Install(ctx, a, o); err != nil {
			return err
		}
	}
	if p.AllowedUnsigned {
		fmt.Fprintf(ew, "WARNING: plugin %s is NOT TRUSTED: %s.\nWARNING: it was installed only because of --allow-unsigned; nobody vouches for what it reports. `kubeshark plugin inspect %s` shows this.\n", p.Name, p.TrustProblem, p.Name)
	}
	if output == "json" {
		return writeJSON(w, p, true)
	}
	signer := "signed by " + p.Signer + " (" + p.SignerKey + ")"
	if p.AllowedUnsigned {
		signer = p.Signer
	}
	state := "enabled"
	if !p.Enabled {
		state = "disabled"
	}
	where := ""
	if c != nil {
		where = " into " + c.name
		if len(nodes) > 0 {
			where += " on nodes " + strings.Join(nodes, ", ")
		}
	}
	fmt.Fprintf(w, "installed %s %s (%s, %s) from %s%s: %s, %s\n", p.Name, p.Version, p.ShortDigest(), humanBytes(p.Size), p.Source, where, signer, state)
	if replaced != nil {
		fmt.Fprintf(w, "replaced %s %s (%s)\n", replaced.Name, replaced.Version, replaced.ShortDigest())
	}
	return nil
}

// builtinNames are the manifest names of the built-in dissectors, which no
// plugin may take.
func builtinNames(ctx context.Context, g *globals) ([]string, error) {
	l, err := loadBuiltins(ctx, g)
	if err != nil {
		return nil, err
	}
	defer l.close(context.Background())
	var names []string
	for _, m := range l.mods {
		names = append(names, m.Manifest().Name)
	}
	return names, nil
}

func newPluginListCmd(g *globals) *cobra.Command {
	var output string
	var remote remoteOpts
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the installed plugins (--url: those of a running hub)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output %q: want table or json", output)
			}
			c, err := remote.client(g.logger())
			if err != nil {
				return err
			}
			ps := []listedPlugin{}
			if c != nil {
				ps, err = c.list(cmd.Context())
			} else {
				var local []plugins.Plugin
				local, err = pluginStore(g, nil).List(cmd.Context())
				for _, p := range local {
					ps = append(ps, listedPlugin{Plugin: p})
				}
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output == "json" {
				if ps == nil {
					ps = []listedPlugin{}
				}
				return writeJSON(w, ps, true)
			}
			if len(ps) == 0 {
				fmt.Fprintln(w, "no plugins installed (kubeshark plugin install SRC)")
				return nil
			}
			// A cluster hub says on which nodes each is.
			cluster := false
			for _, p := range ps {
				cluster = cluster || len(p.Nodes) > 0
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			head := "NAME\tVERSION\tPROTOCOLS\tDIGEST\tENABLED\tSIGNER\tSOURCE"
			if cluster {
				head += "\tNODES"
			}
			fmt.Fprintln(tw, head)
			for _, p := range ps {
				line := fmt.Sprintf("%s\t%s\t%s\t%s\t%v\t%s\t%s", p.Name, p.Version, strings.Join(p.Manifest.Protocols, ","), p.ShortDigest(), p.Enabled, p.Signer, shortDigests(p.Source))
				if cluster {
					line += "\t" + strings.Join(p.Nodes, ",")
				}
				fmt.Fprintln(tw, line)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	remote.flags(cmd)
	return cmd
}

// pluginReport is what inspect shows.
type pluginReport struct {
	plugins.Plugin
	Limits pluginLimits `json:"limits"`
	Health *savedHealth `json:"last_import_health,omitempty"`
}

type pluginLimits struct {
	MemoryMiB         int    `json:"memory_mib"`
	CallTimeout       string `json:"call_timeout"`
	MaxRecordsPerCall int    `json:"max_records_per_call"`
	MaxRecordBytes    int    `json:"max_record_bytes"`
	QuarantineAfter   int    `json:"quarantine_after_faults"`
	MaxModuleBytes    int    `json:"max_module_bytes"`
}

func newPluginInspectCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "inspect NAME|DIGEST",
		Short: "Show an installed plugin: manifest, fields, digest, signer, limits and health",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			ctx := cmd.Context()
			p, err := pluginStore(g, nil).Get(ctx, args[0])
			if err != nil {
				return err
			}
			c := wasm.Config{}.WithDefaults()
			r := pluginReport{Plugin: p, Limits: pluginLimits{
				MemoryMiB: c.MemoryLimitMiB, CallTimeout: c.CallTimeout.String(), MaxRecordsPerCall: c.MaxRecordsPerCall,
				MaxRecordBytes: c.MaxRecordBytes, QuarantineAfter: c.QuarantineAfter, MaxModuleBytes: plugins.MaxModuleSize,
			}}
			if _, err := os.Stat(filepath.Join(g.dataDir, "store")); err == nil {
				if st, err := openStore(ctx, g, storage.Options{}); err == nil {
					if b, err := st.GetMeta(ctx, healthKey(p.Name)); err == nil {
						var h savedHealth
						if json.Unmarshal(b, &h) == nil {
							r.Health = &h
						}
					}
					st.Close()
				}
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), r, true)
			}
			printPluginReport(cmd.OutOrStdout(), r)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func printPluginReport(w io.Writer, r pluginReport) {
	m := r.Manifest
	fmt.Fprintf(w, "name:         %s\nversion:      %s\n", r.Name, r.Version)
	if m.Description != "" {
		fmt.Fprintf(w, "description:  %s\n", m.Description)
	}
	fmt.Fprintf(w, "protocols:    %s\ntransports:   %s\n", strings.Join(m.Protocols, ", "), strings.Join(m.Transports, ", "))
	if len(m.PortHints) > 0 {
		fmt.Fprintf(w, "port hints:   %v\n", m.PortHints)
	}
	fmt.Fprintf(w, "abi:          v%d\ndigest:       %s\nsize:         %s\nsource:       %s\ninstalled:    %s\n", r.ABI, r.Digest, humanBytes(r.Size), r.Source, r.InstalledAt.Format("2006-01-02 15:04:05Z07:00"))
	if r.AllowedUnsigned {
		fmt.Fprintf(w, "signer:       %s\n              NOT TRUSTED: %s\n", r.Signer, r.TrustProblem)
	} else {
		fmt.Fprintf(w, "signer:       %s (%s)\n", r.Signer, r.SignerKey)
	}
	fmt.Fprintf(w, "enabled:      %v\n", r.Enabled)
	if len(r.Ports) > 0 {
		fmt.Fprintf(w, "pinned ports: %v (connections on them skip probing; kubeshark plugin enable %s --unpin)\n", r.Ports, r.Name)
	}
	l := r.Limits
	fmt.Fprintf(w, "limits:       %d MiB memory, %s a call, %d records a call, %d bytes a record, quarantined after %d faults\n", l.MemoryMiB, l.CallTimeout, l.MaxRecordsPerCall, l.MaxRecordBytes, l.QuarantineAfter)
	switch h := r.Health; {
	case h == nil:
		fmt.Fprintln(w, "health:       not run by an import yet")
	case h.Quarantined:
		fmt.Fprintf(w, "health:       QUARANTINED in the import of %s after %d faults (last: %s)\n", h.At.Format("2006-01-02 15:04:05Z07:00"), h.Faults, h.LastFault)
	case h.Faults > 0:
		fmt.Fprintf(w, "health:       %d faults in the import of %s (last: %s)\n", h.Faults, h.At.Format("2006-01-02 15:04:05Z07:00"), h.LastFault)
	default:
		fmt.Fprintf(w, "health:       ok in the import of %s\n", h.At.Format("2006-01-02 15:04:05Z07:00"))
	}
	if h := r.Health; h != nil && h.Errors != nil {
		contested := 0
		var example string
		for _, e := range h.Errors.Examples {
			if e.Kind == "contested" {
				contested++
				if example == "" {
					example = e.Conn + ": " + e.Error
				}
			}
		}
		if contested > 0 {
			fmt.Fprintf(w, "contested:    connections another dissector also claimed (e.g. %s)\n", example)
		}
	}
	fmt.Fprintf(w, "fields:       %d (filter with them: kubeshark calls --filter '%s && ...')\n", len(m.Fields), firstOr(m.Protocols, r.Name))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range m.Fields {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, f.Type, f.Description)
	}
	tw.Flush()
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

func newPluginEnableCmd(g *globals, enable bool) *cobra.Command {
	use, short := "enable NAME|DIGEST", "Enable an installed plugin (a running tap or hub picks it up for new connections)"
	if !enable {
		use, short = "disable NAME|DIGEST", "Disable an installed plugin without removing it (a running tap or hub stops using it for new connections)"
	}
	var remote remoteOpts
	var ports []uint
	var unpin bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := remote.client(g.logger())
			if err != nil {
				return err
			}
			pin := len(ports) > 0 || unpin
			if pin && c != nil {
				return errors.New("--port and --unpin change the local plugin store only; run them where the hub runs")
			}
			var pinned []uint16
			for _, p := range ports {
				if p == 0 || p > 65535 {
					return fmt.Errorf("--port %d: want a port from 1 to 65535", p)
				}
				pinned = append(pinned, uint16(p))
			}
			var p plugins.Plugin
			if c != nil {
				p, err = c.setEnabled(cmd.Context(), args[0], enable)
			} else {
				st := pluginStore(g, nil)
				if pin {
					if _, err := st.SetPorts(cmd.Context(), args[0], pinned); err != nil {
						return err
					}
				}
				p, err = st.SetEnabled(cmd.Context(), args[0], enable)
			}
			if err != nil {
				return err
			}
			if len(p.Ports) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "ports pinned to %s: %v (connections on them skip probing)\n", p.Name, p.Ports)
			}
			state := "enabled"
			if !enable {
				state = "disabled"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s) %s\n", p.Name, p.Version, p.ShortDigest(), state)
			return nil
		},
	}
	remote.flags(cmd)
	if enable {
		cmd.Flags().UintSliceVar(&ports, "port", nil, "pin these ports to the plugin: connections on them go to it without probing (as import/tap --decode-as PORT=NAME, which overrides it); repeatable or comma-separated")
		cmd.Flags().BoolVar(&unpin, "unpin", false, "remove the plugin's port pins")
	}
	return cmd
}

func newPluginRemoveCmd(g *globals) *cobra.Command {
	var remote remoteOpts
	cmd := &cobra.Command{
		Use:   "remove NAME|DIGEST",
		Short: "Remove an installed plugin (records it produced stay, and so do their fields in filters)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := remote.client(g.logger())
			if err != nil {
				return err
			}
			var p plugins.Plugin
			if c != nil {
				p, err = c.remove(cmd.Context(), args[0])
			} else {
				p, err = pluginStore(g, nil).Remove(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s %s (%s)\n", p.Name, p.Version, p.ShortDigest())
			return nil
		},
	}
	remote.flags(cmd)
	return cmd
}

func newPluginVerifyCmd(g *globals) *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "verify NAME|DIGEST|FILE.wasm",
		Short: "Check a plugin's digest, signature and module again (an installed one, or a file with its .minisig)",
		Long: `For an installed plugin: its bytes against the digest it was installed under,
its signature against today's trust store, its module in the sandbox.
For a file: its signature (FILE.wasm.minisig) against the trust store, or
against the public key --key names.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			st := pluginStore(g, nil)
			ref := args[0]
			if _, err := os.Stat(ref); err != nil && key == "" {
				p, k, err := st.Verify(ctx, ref)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s %s (%s): digest ok, signed by %s (%s), loads with ABI v%d\n", p.Name, p.Version, p.Digest, k.ID, k.Path, p.ABI)
				return nil
			}
			a, err := plugins.Fetch(ctx, ref, plugins.FetchOptions{})
			if err != nil {
				return err
			}
			if key != "" {
				id, err := plugins.VerifyWithKey(key, a.Code, a.Sig)
				if err != nil {
					return fmt.Errorf("%s: %w", ref, err)
				}
				fmt.Fprintf(w, "%s (%s): signature by %s ok\n", ref, plugins.Digest(a.Code), id)
				return nil
			}
			k, err := st.Trust().Check(a.Code, a.Sig)
			if err != nil {
				return fmt.Errorf("%s: %w", ref, err)
			}
			fmt.Fprintf(w, "%s (%s): signed by %s (%s)\n", ref, plugins.Digest(a.Code), k.ID, k.Path)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "verify with this public key instead of the trust store")
	return cmd
}

func newPluginKeygenCmd(g *globals) *cobra.Command {
	var out string
	var noPassword, trust, force bool
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make a minisign key pair for signing plugins (PREFIX.key and PREFIX.pub)",
		Long: `Writes a minisign key pair. The private key is encrypted with the password
in $` + plugins.PasswordEnv + `; --no-password writes it unencrypted (for CI
secrets stores that encrypt it themselves). --trust also adds the public
key to this data directory's trust store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw := os.Getenv(plugins.PasswordEnv)
			if pw == "" && !noPassword {
				return fmt.Errorf("set the private key's password in $%s, or pass --no-password to write it unencrypted", plugins.PasswordEnv)
			}
			if noPassword {
				pw = ""
			}
			privPath, pubPath := out+".key", out+".pub"
			if !force {
				for _, p := range []string{privPath, pubPath} {
					if _, err := os.Stat(p); err == nil {
						// A second walk-through (another example, another
						// data directory) wants the same key trusted here.
						reuse := ""
						if _, err := os.Stat(pubPath); err == nil {
							reuse = fmt.Sprintf("; to sign with it and trust it in this data directory: kubeshark plugin trust %s", pubPath)
						}
						return fmt.Errorf("%s exists; refusing to overwrite a key (--force does)%s", p, reuse)
					}
				}
			}
			pub, priv, id, err := plugins.GenerateKey(pw)
			if err != nil {
				return err
			}
			if dir := filepath.Dir(out); dir != "." {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
			}
			if err := os.WriteFile(privPath, priv, 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "key %s: private %s, public %s\n", id, privPath, pubPath)
			if trust {
				dst, err := addTrustedKey(g, pubPath)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "trusted: %s\n", dst)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "kubeshark-plugin", "path prefix of the key files")
	f.BoolVar(&noPassword, "no-password", false, "write the private key unencrypted")
	f.BoolVar(&trust, "trust", false, "add the public key to the data directory's trust store")
	f.BoolVar(&force, "force", false, "overwrite existing key files")
	return cmd
}

func newPluginSignCmd() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "sign FILE.wasm",
		Short: "Sign a module with a minisign private key: writes FILE.wasm.minisig",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return errors.New("--key: name the private key (kubeshark plugin keygen makes one)")
			}
			k, err := plugins.ReadPrivateKey(key, os.Getenv(plugins.PasswordEnv))
			if err != nil {
				return err
			}
			code, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			sigPath := args[0] + ".minisig"
			if err := os.WriteFile(sigPath, plugins.Sign(k, code, args[0]), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed %s (%s) with key %s: %s\n", args[0], plugins.Digest(code), plugins.KeyID(k.ID()), sigPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the minisign private key (password in $"+plugins.PasswordEnv+")")
	return cmd
}

// addTrustedKey copies a public key into the data directory's trust store
// under its key id.
func addTrustedKey(g *globals, pubPath string) (string, error) {
	b, err := os.ReadFile(pubPath)
	if err != nil {
		return "", err
	}
	id, err := plugins.PublicKeyID(b)
	if err != nil {
		return "", fmt.Errorf("%s: %w", pubPath, err)
	}
	dir := trustDirs(g)[0]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, id+".pub")
	return dst, os.WriteFile(dst, b, 0o644)
}

func newPluginTrustCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "trust [KEY.pub...]",
		Short: "Add public keys to the data directory's trust store, or list the trusted keys",
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			for _, a := range args {
				dst, err := addTrustedKey(g, a)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "trusted: %s\n", dst)
			}
			if len(args) > 0 {
				return nil
			}
			keys, err := plugins.TrustStore{Dirs: trustDirs(g)}.Keys()
			if err != nil {
				return err
			}
			if len(keys) == 0 {
				fmt.Fprintf(w, "no trusted keys in %s\n", strings.Join(trustDirs(g), " or "))
			}
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%s\n", k.ID, k.Path)
			}
			return nil
		},
	}
}

func newPluginPushCmd(g *globals) *cobra.Command {
	var plainHTTP bool
	cmd := &cobra.Command{
		Use:   "push NAME|FILE.wasm oci://REGISTRY/REPO:TAG",
		Short: "Push an installed plugin, or a module file with its .minisig, to an OCI registry",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			src, ref := args[0], args[1]
			if !strings.HasPrefix(ref, "oci://") {
				return fmt.Errorf("%s: push to an oci://REGISTRY/REPO:TAG reference", ref)
			}
			var a plugins.Artifact
			var p plugins.Plugin
			if _, err := os.Stat(src); err == nil {
				if a, err = plugins.Fetch(ctx, src, plugins.FetchOptions{}); err != nil {
					return err
				}
				m, err := plugins.Validate(ctx, src, a.Code, g.wasmCacheDir())
				if err != nil {
					return err
				}
				p.Manifest = m
			} else {
				st := pluginStore(g, nil)
				if p, err = st.Get(ctx, src); err != nil {
					return fmt.Errorf("%s is neither a file nor an installed plugin: %w", src, err)
				}
				if a, err = st.Module(p); err != nil {
					return err
				}
			}
			if len(a.Sig) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: %s has no signature: installs from %s will need --allow-unsigned\n", src, ref)
			}
			opts := plugins.OCIOptions{PlainHTTP: plainHTTP}
			if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
				sec, err := strconv.ParseInt(v, 10, 64)
				if err != nil || sec < 0 {
					return fmt.Errorf("SOURCE_DATE_EPOCH=%q: want the seconds since 1970 (as reproducible builds set it), or unset it for a fixed epoch stamp", v)
				}
				opts.Created = time.Unix(sec, 0)
			}
			d, err := plugins.PushOCI(ctx, ref, a, p.Manifest, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %s %s (%s) to %s\ndigest: %s\ninstall: kubeshark plugin install %s\n", p.Manifest.Name, p.Manifest.Version, plugins.Digest(a.Code), ref, d, pinnedRef(ref, d))
			return nil
		},
	}
	cmd.Flags().BoolVar(&plainHTTP, "plain-http", false, "talk plain http to the registry (always so for loopback registries)")
	return cmd
}

// pinnedRef is an oci:// reference with its tag (or digest) replaced by
// the digest pushed: what to install to get exactly these bytes.
func pinnedRef(ref, digest string) string {
	repo := strings.TrimPrefix(ref, "oci://")
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i] // a tag, not a registry's port
	}
	return "oci://" + repo + "@" + digest
}
