package main

import (
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	dataDir string
	verbose bool
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
	root.PersistentFlags().StringVar(&g.dataDir, "data", defaultDataDir(), "data directory: the record store and the compiled-dissector cache (env KUBESHARK_DATA)")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log debug detail to stderr")
	root.AddCommand(
		newImportCmd(g),
		newCallsCmd(g),
		newCallCmd(g),
		newDissectorsCmd(g),
		newPluginCmd(g),
		newMCPCmd(g),
		newHubCmd(g),
		newTapCmd(g),
		newVersionCmd(),
		newSampleCmd(),
	)
	return root
}
