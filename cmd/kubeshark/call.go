package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/analysis"
)

func newCallCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "call ID",
		Short: "Show one API call with its full request and response",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "json" && output != "text" {
				return fmt.Errorf("--output %q: want json or text", output)
			}
			if url := runningTap(g.dataDir); url != "" {
				// The hub's view of a call, in JSON whatever --output says.
				return callViaTap(cmd.Context(), g, url, args[0], cmd.OutOrStdout())
			}
			st, err := openExistingStore(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := st.Get(cmd.Context(), args[0])
			if errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("no call with id %q in %s", args[0], g.dataDir)
			}
			if err != nil {
				return err
			}
			var memo analysis.TemplateMemo // reads the set cached in the store
			set, err := memo.Templates(cmd.Context(), st)
			if err != nil {
				return fmt.Errorf("learning the endpoint templates: %w", err)
			}
			tmpl := set.OfRecord(r)
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), templatedRecord{r, tmpl}, true)
			}
			printCall(cmd.OutOrStdout(), r, tmpl)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output format: json or text")
	return cmd
}

func printCall(w io.Writer, r *sdk.Record, tmpl string) {
	fmt.Fprintf(w, "%s  %s  %s → %s\n", r.ID, r.Timestamp.UTC().Format("2006-01-02T15:04:05.000000000Z"), r.Src, r.Dst)
	fmt.Fprintf(w, "%s  (%s, stream %s)\n", r.Summary, r.Dissector, r.Stream)
	if tmpl != "" {
		fmt.Fprintf(w, "endpoint %s\n", strings.TrimSpace(r.Method+" "+tmpl))
	}
	for _, side := range []struct {
		name string
		e    sdk.Endpoint
	}{{"src", r.Src}, {"dst", r.Dst}} {
		if d := describeK8s(side.e); d != "" {
			fmt.Fprintf(w, "%s: %s\n", side.name, d)
		}
	}
	if r.ElapsedMs != nil {
		fmt.Fprintf(w, "elapsed %s ms\n", strconv.FormatFloat(*r.ElapsedMs, 'f', 3, 64))
	}
	if r.Error != "" {
		fmt.Fprintf(w, "note: %s\n", r.Error)
	}
	for _, part := range []struct {
		name string
		m    *sdk.Message
	}{{"request", r.Request}, {"response", r.Response}} {
		if part.m == nil {
			continue
		}
		fmt.Fprintf(w, "\n--- %s (%d bytes on the wire, body %d bytes)\n", part.name, part.m.Size, part.m.BodySize)
		for _, h := range part.m.Headers {
			fmt.Fprintf(w, "%s: %s\n", h.Name, h.Value)
		}
		keys := make([]string, 0, len(part.m.Fields))
		for k := range part.m.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "[%s] %v\n", k, part.m.Fields[k])
		}
		if part.m.Body != "" {
			fmt.Fprintln(w)
			if part.m.Encoding != "" {
				fmt.Fprintf(w, "(%s)\n", part.m.Encoding)
			}
			fmt.Fprintln(w, part.m.Body)
		}
	}
}

// describeK8s says what held an endpoint's address: "pod shop/orders-0
// (StatefulSet orders), service orders, node node-a"; "" when unknown.
func describeK8s(e sdk.Endpoint) string {
	k := e.K8s
	if k == nil {
		return ""
	}
	var parts []string
	if k.Pod != "" {
		p := "pod " + e.Namespace + "/" + k.Pod
		if k.Workload != "" {
			p += " (" + k.WorkloadKind + " " + k.Workload + ")"
		}
		parts = append(parts, p)
	}
	if k.Service != "" {
		parts = append(parts, "service "+e.Namespace+"/"+k.Service)
	}
	if k.Node != "" {
		parts = append(parts, "node "+k.Node)
	}
	return strings.Join(parts, ", ")
}
