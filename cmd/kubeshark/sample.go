package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
)

func newSampleCmd() *cobra.Command {
	var n int
	var scenario, start string
	cmd := &cobra.Command{
		Use:   "sample FILE",
		Short: "Write a sample capture of real HTTP traffic (net/http servers and clients on loopback)",
		Long: `Write a sample capture of real HTTP traffic made by net/http servers and
clients on loopback:

  --scenario http     one server, a mix of methods, statuses (some 503s),
                      bodies and encodings (default)
  --scenario cascade  frontend → orders → payments; halfway through, payments
                      starts answering 503, orders 502 and frontend 500 — an
                      incident to investigate with kubeshark mcp`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var write func(ctx context.Context, w io.Writer) (any, error)
			switch scenario {
			case "http":
				write = func(ctx context.Context, w io.Writer) (any, error) { return synth.HTTPSample(ctx, w, n) }
			case "cascade":
				opts := synth.CascadeOptions{}
				if cmd.Flags().Changed("requests") {
					opts.Checkouts = n
				}
				if start != "" {
					t, err := time.Parse(time.RFC3339, start)
					if err != nil {
						return fmt.Errorf("--start %q: want RFC 3339, e.g. 2026-11-20T14:00:00Z", start)
					}
					opts.Start = t
				}
				write = func(ctx context.Context, w io.Writer) (any, error) {
					st, err := synth.Cascade(ctx, w, opts)
					if err != nil {
						return nil, err
					}
					return fmt.Sprintf("%s to %s, payments failing from %s; %d connections, %d packets",
						st.Start.Format(time.RFC3339), st.End.Format(time.RFC3339), st.FailureOnset.Format(time.RFC3339), st.Conns, st.Packets), nil
				}
			default:
				return fmt.Errorf("--scenario %q: want http or cascade", scenario)
			}
			f, err := os.Create(args[0])
			if err != nil {
				return err
			}
			st, err := write(cmd.Context(), f)
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
	cmd.Flags().IntVarP(&n, "requests", "n", 200, "request/response pairs (http) or checkouts (cascade, default 60)")
	cmd.Flags().StringVar(&scenario, "scenario", "http", "http or cascade")
	cmd.Flags().StringVar(&start, "start", "", "cascade: capture time of the first packet (RFC 3339; default now)")
	return cmd
}
