package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/dissectors"
	"github.com/kubeshark-wasm/kubeshark/plugins/devkit"
)

func newPluginNewCmd() *cobra.Command {
	var lang, dir string
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Start a dissector plugin project in Go, C or Rust",
		Long: `Writes a working dissector project for a simple line protocol ("PING name"
answered by "PONG n") into ./NAME (or --dir): the source with probe, feed and
close filled in, the SDK vendored so it builds offline, a Makefile, a README
and testdata/ for captures and the golden records. Then:

  kubeshark plugin build NAME
  kubeshark plugin test --update NAME CAPTURE.pcap   # writes NAME/testdata/records.golden
  kubeshark plugin test NAME CAPTURE.pcap            # compares with it`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			l, err := devkit.ParseLang(lang)
			if err != nil {
				return fmt.Errorf("--lang: %w", err)
			}
			if err := devkit.CheckName(name); err != nil {
				return err
			}
			if slices.Contains(builtinFamilies(), name) {
				return fmt.Errorf("plugin name %q is a built-in dissector's; choose another (kubeshark dissectors lists them)", name)
			}
			if dir == "" {
				dir = name
			}
			files, err := devkit.Scaffold(dir, name, l)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "created %s plugin %s in %s:\n", l, name, dir)
			for _, f := range files {
				fmt.Fprintf(w, "  %s\n", f)
			}
			fmt.Fprintf(w, "next: kubeshark plugin build %s && kubeshark plugin test --update %s CAPTURE.pcap\n", dir, dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&lang, "lang", "go", "language: go, c or rust")
	cmd.Flags().StringVar(&dir, "dir", "", "directory to create (default ./NAME)")
	return cmd
}

// builtinFamilies names the built-in dissectors by their embedded modules
// (http1, dns ...) and those names without a version digit (http), without
// loading them: a cold load compiles every built-in, tens of seconds for
// a first command. `plugin install` checks the exact manifest names.
func builtinFamilies() []string {
	mods, _ := dissectors.Builtin()
	var names []string
	for _, m := range mods {
		names = append(names, m.Name, strings.TrimRight(m.Name, "0123456789"))
	}
	return names
}

func newPluginBuildCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "build [DIR]",
		Short: "Build a plugin project to DIR/NAME.wasm with its language's toolchain",
		Long: `Builds the plugin project in DIR (default .), telling its language from its
files: go.mod → Go (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared);
*.c → C (clang --target=wasm32-wasi -O2 -mbulk-memory -msimd128 -mexec-model=reactor
with wasi-libc); Cargo.toml or src/lib.rs → Rust (Debian's /usr/bin/rustc,
wasm32-wasi cdylib at opt-level 3 with bulk memory, the vendored SDK crate;
$KUBESHARK_RUSTC picks another rustc, $KUBESHARK_CLANG another clang). C and
Rust modules then go through binaryen's wasm-opt -O3 when it is installed
($KUBESHARK_WASM_OPT picks another, "none" skips it). The module is
DIR/BASENAME.wasm.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			out, err := devkit.Build(cmd.Context(), dir)
			if err != nil {
				return err
			}
			st, err := os.Stat(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "built %s (%d bytes)\n", out, st.Size())
			return nil
		},
	}
}

func newPluginTestCmd() *cobra.Command {
	var update bool
	var golden string
	cmd := &cobra.Command{
		Use:   "test [DIR|FILE.wasm] CAPTURE...",
		Short: "Run a plugin on captures and print its records or compare them with the golden file",
		Long: `Runs a plugin alone, in the same sandbox and pipeline as an import, on each
capture. A project DIR is built first when a file changed since its module was, and
its golden file is
DIR/testdata/records.golden; for a FILE.wasm give --golden. With a golden
file the records are compared with it (one JSON line per record: what the
dissector decides, not times or addresses) and a difference is shown and
exits 1; --update rewrites it instead. Without one the records are printed.
A fault of the plugin (a trap, a broken limit) is an error, and so are
records whose fields disagree with the manifest (a field it does not
declare, a value of another type): filters could not use them.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPluginTest(cmd, args[0], args[1:], golden, update)
		},
	}
	cmd.Flags().BoolVar(&update, "update", false, "rewrite the golden file with the records")
	cmd.Flags().StringVar(&golden, "golden", "", "golden file (default DIR/"+devkit.GoldenFile+" for a project)")
	return cmd
}

func runPluginTest(cmd *cobra.Command, target string, captures []string, golden string, update bool) error {
	ctx := cmd.Context()
	w, ew := cmd.OutOrStdout(), cmd.ErrOrStderr()
	module := target
	st, err := os.Stat(target)
	if err != nil {
		return err
	}
	if st.IsDir() {
		var built bool
		if module, built, err = devkit.BuildIfStale(ctx, target); err != nil {
			return err
		}
		if built {
			fmt.Fprintf(ew, "built %s\n", module)
		}
		if golden == "" {
			golden = filepath.Join(target, filepath.FromSlash(devkit.GoldenFile))
		}
	} else if !strings.HasSuffix(target, ".wasm") {
		return fmt.Errorf("%s: want a plugin project directory or a .wasm module", target)
	}
	if update && golden == "" {
		return errors.New("--update needs a golden file: give a project directory or --golden")
	}
	code, err := os.ReadFile(module)
	if err != nil {
		return err
	}
	res, err := devkit.Run(ctx, module, code, captures...)
	if err != nil {
		return err
	}
	fmt.Fprintf(ew, "%s %s: %d records from %d captures\n", res.Manifest.Name, res.Manifest.Version, len(res.Records), len(captures))
	if res.Health.Faults > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%s faulted %d times; last: %s", res.Manifest.Name, res.Health.Faults, res.Health.LastFault)}
	}
	lies := devkit.CheckFields(res.Manifest, res.Records)
	for _, l := range lies {
		fmt.Fprintf(ew, "manifest: %s\n", l)
	}
	if err := reportRecords(w, ew, res, st.IsDir(), golden, update); err != nil {
		return err
	}
	if len(lies) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("the records disagree with %s's manifest in %d ways (above)", res.Manifest.Name, len(lies))}
	}
	return nil
}

// reportRecords writes the golden file, compares with it or prints the
// records.
func reportRecords(w, ew io.Writer, res *devkit.Result, project bool, golden string, update bool) error {
	switch {
	case update:
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(golden, devkit.Format(res.Records), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %d records to %s\n", len(res.Records), golden)
	case golden != "" && fileExists(golden):
		if err := devkit.Compare(golden, res.Records); err != nil {
			return &exitError{code: 1, msg: err.Error()}
		}
		fmt.Fprintf(w, "ok: %d records match %s\n", len(res.Records), golden)
	default:
		if golden != "" && project {
			fmt.Fprintf(ew, "no golden file %s yet: --update writes it\n", golden)
		} else if golden != "" {
			return fmt.Errorf("golden file %s does not exist: --update writes it", golden)
		}
		_, err := io.Copy(w, strings.NewReader(string(devkit.Format(res.Records))))
		return err
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
