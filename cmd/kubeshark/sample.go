package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
)

// addressNote explains the addresses a sample capture shows: the traffic
// is real and runs over loopback, but the relay that records it writes each
// connection between stable made-up addresses, so that the capture looks
// like a network of services rather than a host talking to itself.
const addressNote = `The traffic is real (net/http servers and clients exchanging requests over
loopback, 127.0.0.1), recorded through a relay that writes what each side
sent as TCP conversations between made-up addresses: 10.0.x.y clients and a
server at 10.0.1.1:80 (http), or the services at 10.0.0.10, 10.0.0.20 and
10.0.0.30:8080 called from 10.0.0.5 (cascade; the incidents' addresses are
in their ground truth). So the capture shows 10.0.x.x, not 127.0.0.1.
Payloads are the real exchange's; the cascade's and the incidents'
timestamps come from a virtual clock, so that their time line is the same
on every machine.`

func newSampleCmd() *cobra.Command {
	var n int
	var scenario, start, truth string
	cmd := &cobra.Command{
		Use:   "sample FILE",
		Short: "Write a sample capture of real HTTP traffic (net/http servers and clients on loopback)",
		Long: `Write a sample capture of real HTTP traffic made by net/http servers and
clients on loopback:

  --scenario http     one server, a mix of methods, statuses (some 503s),
                      bodies and encodings (default; -n request/response
                      pairs, default 200)
  --scenario cascade  frontend → orders → payments; halfway through, payments
                      starts answering 503, orders 502 and frontend 500 — an
                      incident to investigate with kubeshark mcp (-n
                      checkouts, default 60)

Incidents (-n is ignored; each runs 60 simulated seconds, the fault
switching on 30s in). They and cascade are written with a ground-truth
file (FILE with .truth.json for its extension, or --truth): the root
cause's address, the onset and the call that shows it.

` + incidentHelp() + "\n" + addressNote,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("requests") && n < 1 {
				return fmt.Errorf("--requests %d: want at least 1", n)
			}
			var write func(ctx context.Context, w io.Writer) (string, error)
			switch scenario {
			case "http":
				if n == 0 {
					n = 200
				}
				write = func(ctx context.Context, w io.Writer) (string, error) {
					st, err := synth.HTTPSample(ctx, w, n)
					if err != nil {
						return "", err
					}
					return fmt.Sprintf("%d requests (%s), %d responses (%s); %d connections, %d packets",
						st.Requests, counts(st.Methods), st.Responses, counts(st.Statuses), st.Conns, st.Packets), nil
				}
			case "cascade":
				opts := synth.CascadeOptions{Checkouts: n}
				if start != "" {
					t, err := time.Parse(time.RFC3339, start)
					if err != nil {
						return fmt.Errorf("--start %q: want RFC 3339, e.g. 2026-11-20T14:00:00Z", start)
					}
					opts.Start = t
				}
				write = func(ctx context.Context, w io.Writer) (string, error) {
					st, err := synth.Cascade(ctx, w, opts)
					if err != nil {
						return "", err
					}
					msg := fmt.Sprintf("%s to %s, payments failing from %s; %d connections, %d packets",
						st.Start.Format(time.RFC3339), st.End.Format(time.RFC3339), st.FailureOnset.Format(time.RFC3339), st.Conns, st.Packets)
					if gt := synth.CascadeTruth(st); gt.Scenario != "" {
						if err := writeTruth(truthPath(args[0], truth), gt); err != nil {
							return "", err
						}
						msg += "; ground truth in " + truthPath(args[0], truth)
					}
					return msg, nil
				}
			default:
				if _, ok := synth.IncidentNames()[scenario]; !ok {
					return fmt.Errorf("--scenario %q: want http, cascade or an incident: %s", scenario, strings.Join(synth.SortedIncidentNames(), ", "))
				}
				opts := synth.IncidentOptions{}
				if start != "" {
					t, err := time.Parse(time.RFC3339, start)
					if err != nil {
						return fmt.Errorf("--start %q: want RFC 3339, e.g. 2026-11-20T14:00:00Z", start)
					}
					opts.Start = t
				}
				truth = truthPath(args[0], truth)
				// Some incidents start real servers (PostgreSQL, unbound)
				// or run on the real clock: say what is happening first.
				fmt.Fprintf(cmd.ErrOrStderr(), "recording the %s incident with real servers and clients on loopback …\n", scenario)
				write = func(ctx context.Context, w io.Writer) (string, error) {
					gt, err := synth.Incident(ctx, w, scenario, opts)
					if err != nil {
						return "", err
					}
					if err := writeTruth(truth, gt); err != nil {
						return "", err
					}
					return fmt.Sprintf("%s to %s, %s from %s; %s, %s; ground truth in %s",
						gt.Start.Format(time.RFC3339), gt.End.Format(time.RFC3339), gt.Kind, gt.Onset.Format(time.RFC3339), plural(gt.Conns, "connection"), plural(gt.Packets, "packet"), truth), nil
				}
			}
			f, err := os.Create(args[0])
			if err != nil {
				return err
			}
			summary, err := write(cmd.Context(), f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(args[0])
				return fmt.Errorf("writing sample %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s\n", args[0], summary)
			fmt.Fprintln(cmd.OutOrStdout(), "(real traffic over loopback, recorded as if between 10.0.x.x addresses; see kubeshark sample --help)")
			return nil
		},
	}
	cmd.Flags().IntVarP(&n, "requests", "n", 0, "request/response pairs (http: default 200) or checkouts (cascade: default 60)")
	cmd.Flags().StringVar(&scenario, "scenario", "http", "http, cascade or an incident ("+strings.Join(synth.SortedIncidentNames(), ", ")+")")
	cmd.Flags().StringVar(&start, "start", "", "cascade and incidents: capture time of the first packet (RFC 3339; default now)")
	cmd.Flags().StringVar(&truth, "truth", "", "cascade and incidents: where to write the ground truth (default FILE with .truth.json for its extension)")
	return cmd
}

// truthPath is where a sample's ground truth goes: flag if given, else
// beside the capture with .truth.json for its extension.
func truthPath(capture, flag string) string {
	if flag != "" {
		return flag
	}
	return strings.TrimSuffix(capture, filepath.Ext(capture)) + ".truth.json"
}

func writeTruth(path string, gt synth.GroundTruth) error {
	b, err := json.MarshalIndent(gt, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing ground truth: %w", err)
	}
	return nil
}

// incidentHelp lists the incident scenarios with their summaries.
func incidentHelp() string {
	var b strings.Builder
	all := synth.IncidentNames()
	for _, n := range synth.SortedIncidentNames() {
		fmt.Fprintf(&b, "  --scenario %-17s %s\n", n, all[n])
	}
	return b.String()
}

// counts renders a histogram as "GET 120, POST 40", most frequent first.
func counts[K comparable](m map[K]int) string {
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{fmt.Sprint(k), v})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].v != all[j].v {
			return all[i].v > all[j].v
		}
		return all[i].k < all[j].k
	})
	parts := make([]string, len(all))
	for i, e := range all {
		parts[i] = fmt.Sprintf("%s %d", e.k, e.v)
	}
	return strings.Join(parts, ", ")
}
