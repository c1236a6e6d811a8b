package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
)

func newSampleCmd() *cobra.Command {
	var n int
	cmd := &cobra.Command{
		Use:   "sample FILE",
		Short: "Write a sample capture of real HTTP traffic (a net/http server and clients on loopback)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Create(args[0])
			if err != nil {
				return err
			}
			st, err := synth.HTTPSample(cmd.Context(), f, n)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(args[0])
				return fmt.Errorf("writing sample %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %+v\n", args[0], st)
			return nil
		},
	}
	cmd.Flags().IntVarP(&n, "requests", "n", 200, "request/response pairs to generate")
	return cmd
}
