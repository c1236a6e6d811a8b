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
  sudo NAME/testdata/capture.sh NAME/testdata/sample.pcap   # real traffic of the protocol, with tcpdump
  kubeshark plugin test --update NAME   # its records of NAME/testdata/*.pcap → NAME/testdata/records.golden
  kubeshark plugin test NAME            # compares with it`,
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
			for _, f := range listedFiles(files) {
				fmt.Fprintf(w, "  %s\n", f)
			}
			fmt.Fprint(w, nextSteps(dir))
			return nil
		},
	}
	cmd.Flags().StringVar(&lang, "lang", "go", "language: go, c or rust")
	cmd.Flags().StringVar(&dir, "dir", "", "directory to create (default ./NAME)")
	return cmd
}

// listedFiles is what `plugin new` lists of the files it wrote: the
// project's own, and the vendored SDK as one line, which is not to be
// edited and would otherwise be most of the list.
func listedFiles(files []string) []string {
	var out []string
	sdk := 0
	for _, f := range files {
		if strings.HasPrefix(filepath.ToSlash(f), "kubeshark-sdk/") {
			sdk++
			continue
		}
		out = append(out, f)
	}
	if sdk > 0 {
		out = append(out, fmt.Sprintf("kubeshark-sdk/ (the SDK, vendored: %s)", plural(sdk, "file")))
	}
	return out
}

// nextSteps is what `plugin new` prints after the files: build, record a
// capture with the project's script, and keep its records as the golden
// file.
func nextSteps(dir string) string {
	capture := filepath.Join(dir, "testdata", "capture.sh")
	sample := filepath.Join(dir, "testdata", "sample.pcap")
	return fmt.Sprintf(`next:
  kubeshark plugin build %[1]s
  sudo %[2]s %[3]s   # records the protocol on loopback (tcpdump, python3)
  kubeshark plugin test --update %[1]s   # its records of %[4]s → the golden file
`, dir, capture, sample, filepath.Join(dir, "testdata", "*.pcap"))
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
			// A first Go build compiles the SDK and the runtime for
			// wasip1: tens of seconds without a word otherwise.
			if l, err := devkit.DetectLang(dir); err == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "building the %s plugin in %s …\n", l, dir)
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
		Use:   "test [DIR|FILE.wasm] [CAPTURE...]",
		Short: "Run a plugin on captures and print its records or compare them with the golden file",
		Long: `Runs a plugin alone, in the same sandbox and pipeline as an import, on each
capture. A project DIR (default .) is built first when a file changed since its
module was; with no CAPTURE it runs on the project's DIR/testdata/*.pcap,
*.pcapng (and .gz), which DIR/testdata/capture.sh records; its golden file
is DIR/testdata/records.golden. For a FILE.wasm name the captures and give
--golden. With a golden file the records are compared with it (one JSON line per record: what the
dissector decides, not times or addresses) and a difference is shown and
exits 1; --update rewrites it instead. Without one the records are printed.
A fault of the plugin (a trap, a broken limit) is an error, and so are
records whose fields disagree with the manifest (a field it does not
declare, a value of another type): filters could not use them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
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
	if !st.IsDir() && !strings.HasSuffix(target, ".wasm") {
		return fmt.Errorf("%s: want a plugin project directory or a .wasm module", target)
	}
	if captures, err = testCaptures(target, st.IsDir(), captures); err != nil {
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
	fmt.Fprintf(ew, "%s %s: %d records from %s\n", res.Manifest.Name, res.Manifest.Version, len(res.Records), plural(len(captures), "capture"))
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
			msg := err.Error()
			if errors.Is(err, devkit.ErrMismatch) {
				// The way forward when the new records are the right ones.
				msg += "\nif the new records are right, the same command with --update keeps them"
				if project {
					msg += " (make golden, in the project)"
				}
			}
			return &exitError{code: 1, msg: msg}
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

// captureGlobs are the files of a project's testdata/ that `plugin test`
// runs on when no capture is named.
var captureGlobs = []string{"*.pcap", "*.pcapng", "*.pcap.gz", "*.pcapng.gz"}

// testCaptures checks the captures named on the command line, or finds a
// project's own in DIR/testdata when none is, and says what to do when
// there are none: a newcomer's first `plugin test` comes before any capture.
func testCaptures(target string, project bool, named []string) ([]string, error) {
	for _, c := range named {
		if _, err := os.Stat(c); err != nil {
			if strings.ContainsAny(c, "*?[") {
				return nil, fmt.Errorf("capture %s: no file matches the pattern; %s", c, captureHint(target, project))
			}
			return nil, fmt.Errorf("capture %s: %w", c, err)
		}
	}
	if len(named) > 0 {
		return named, nil
	}
	if !project {
		return nil, fmt.Errorf("name the captures to run %s on: kubeshark plugin test %s CAPTURE.pcap...", target, target)
	}
	var found []string
	for _, g := range captureGlobs {
		m, err := filepath.Glob(filepath.Join(target, "testdata", g))
		if err != nil {
			return nil, err
		}
		found = append(found, m...)
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no captures in %s (%s); %s", filepath.Join(target, "testdata"), strings.Join(captureGlobs, ", "), captureHint(target, project))
	}
	slices.Sort(found)
	return found, nil
}

// captureHint says how a project gets its first capture.
func captureHint(target string, project bool) string {
	if !project {
		return "name a pcap or pcapng file"
	}
	return fmt.Sprintf("record one with %s (tcpdump, as root), or name a pcap or pcapng file",
		filepath.Join(target, "testdata", "capture.sh")+" "+filepath.Join(target, "testdata", "sample.pcap"))
}

// plural is "1 capture", "2 captures".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
