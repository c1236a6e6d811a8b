package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/kube"
)

// globals are the flags every command shares.
type globals struct {
	dataDir  string
	cacheDir string
	verbose  bool
	// history is the workload history informers feed in this process
	// (import --kubeconfig, tap/hub --kubernetes); nil otherwise.
	history atomic.Pointer[kube.History]
}

func defaultDataDir() string {
	if d := os.Getenv("KUBESHARK_DATA"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".kubeshark/data"
	}
	return filepath.Join(home, ".kubeshark", "data")
}

// defaultCacheDir is where compiled dissectors are kept: per user, not per
// data directory, so that a new --data (a test, a demo, a snapshot, a pod)
// starts in a second instead of compiling every dissector again. Without a
// user cache directory (no $HOME nor $XDG_CACHE_HOME) it is empty, and the
// data directory holds the cache.
func defaultCacheDir() string {
	if d := os.Getenv("KUBESHARK_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "kubeshark")
}

// wasmCacheDir is the directory the runtime keeps compiled dissectors in.
func (g *globals) wasmCacheDir() string {
	if g.cacheDir == "" {
		return filepath.Join(g.dataDir, "cache", "wazero")
	}
	return filepath.Join(g.cacheDir, "wazero")
}

func (g *globals) logger() *slog.Logger {
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "kubeshark",
		Short:         "Network observability with sandboxed WebAssembly protocol dissectors",
		Long:          "kubeshark turns network traffic into API calls (HTTP, DNS, Redis, ...) using protocol dissectors that run as sandboxed WebAssembly modules, and stores them for querying.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.dataDir, "data", defaultDataDir(), "data directory: the record store, raw packets, snapshots and exports (env KUBESHARK_DATA)")
	root.PersistentFlags().StringVar(&g.cacheDir, "cache-dir", defaultCacheDir(), "cache of compiled dissectors, shared by every data directory and safe for concurrent use (env KUBESHARK_CACHE; default: the user cache directory)")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail to stderr")
	root.AddCommand(
		newImportCmd(g),
		newCallsCmd(g),
		newFlowsCmd(g),
		newCallCmd(g),
		newDissectorsCmd(g),
		newPluginCmd(g),
		newMCPCmd(g),
		newHubCmd(g),
		newTapCmd(g),
		newCleanCmd(g),
		newProxyCmd(g),
		newVersionCmd(),
		newSampleCmd(),
	)
	explainArgs(root)
	return root
}

// explainArgs makes every command's argument check say the command's
// usage line: cobra's own message ("accepts 1 arg(s), received 0") names
// neither the command nor what the argument is.
func explainArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return fmt.Errorf("%w (usage: %s; --help says more)", err, cmd.UseLine())
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		explainArgs(sub)
	}
}
