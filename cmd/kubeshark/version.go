package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			wazero := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/tetratelabs/wazero" {
						wazero = d.Version
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "kubeshark %s (dissector ABI v%d, wazero %s, %s %s/%s)\n", version, sdk.ABIVersion, wazero, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
