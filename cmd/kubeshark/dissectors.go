package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

type dissectorInfo struct {
	sdk.Manifest
	ABI    int          `json:"abi_version"`
	Source string       `json:"source"`
	Health *savedHealth `json:"last_import_health,omitempty"`
}

func newDissectorsCmd(g *globals) *cobra.Command {
	var output string
	var extra []string
	cmd := &cobra.Command{
		Use:   "dissectors",
		Short: "List the loaded dissectors and their health in the last import",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output %q: want table or json", output)
			}
			return runDissectors(cmd.Context(), g, extra, output, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json (with each dissector's errors in the last import, and examples)")
	cmd.Flags().StringArrayVar(&extra, "dissector", nil, "also load this dissector module (.wasm); repeatable")
	return cmd
}

func runDissectors(ctx context.Context, g *globals, extra []string, output string, w io.Writer) error {
	if url := runningTap(g.dataDir); url != "" && len(extra) == 0 {
		// The tap holds the store; its hub lists what it dissects with
		// now, plugins installed since it started included.
		var res mcp.DissectorsResult
		if err := hubTool(ctx, g.dataDir, url, "list_dissectors", map[string]any{}, &res); err != nil {
			return err
		}
		if output == "json" {
			return writeJSON(w, res.Dissectors, true)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tVERSION\tPROTOCOLS\tTRANSPORT\tABI\tSOURCE\tSTATUS")
		for _, d := range res.Dissectors {
			status := "ok (tap running: health is saved when it stops)"
			if h := d.LastRun; h != nil && h.Errors != nil && h.Errors.Count > 0 {
				status = fmt.Sprintf("%d errors in the last run", h.Errors.Count)
				if len(h.Errors.Examples) > 0 {
					e := h.Errors.Examples[0]
					status += fmt.Sprintf(" (%s on %s: %s)", e.Kind, e.Conn, clipCell(e.Error, 80))
				}
			}
			if !d.Enabled {
				status = "disabled (enable_dissection)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\tv%d\t%s\t%s\n", d.Name, d.Version, strings.Join(d.Protocols, ","), strings.Join(d.Transports, ","), d.ABIVersion, shortDigests(d.Source), status)
		}
		return tw.Flush()
	}
	l, err := loadDissectors(ctx, g, extra)
	if err != nil {
		return err
	}
	defer l.close(context.Background())
	var st *storage.Store
	if s, err := openExistingStore(ctx, g); err == nil {
		st = s
		defer st.Close()
	}
	var infos []dissectorInfo
	for _, m := range l.mods {
		info := dissectorInfo{Manifest: m.Manifest(), ABI: sdk.ABIVersion, Source: m.Source()}
		if st != nil {
			if b, err := st.GetMeta(ctx, healthKey(m.Manifest().Name)); err == nil {
				var h savedHealth
				if json.Unmarshal(b, &h) == nil {
					info.Health = &h
				}
			}
		}
		infos = append(infos, info)
	}
	if st != nil {
		for _, m := range unloadedManifests(ctx, g, st, l) {
			infos = append(infos, dissectorInfo{Manifest: m, ABI: sdk.ABIVersion, Source: "not loaded (manifest kept for its stored records)"})
		}
	}
	if output == "json" {
		return writeJSON(w, infos, true)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tPROTOCOLS\tTRANSPORT\tABI\tSOURCE\tSTATUS")
	for _, d := range infos {
		status := "ok"
		if h := d.Health; h != nil && h.Faults > 0 {
			status = fmt.Sprintf("%d faults in last import", h.Faults)
			if h.Quarantined {
				status = "QUARANTINED: " + status + " (" + h.LastFault + ")"
			}
		} else if h != nil && h.Errors != nil && h.Errors.Count > 0 {
			status = plural(int(h.Errors.Count), "error") + " in last import"
			if len(h.Errors.Examples) > 0 {
				e := h.Errors.Examples[0]
				status += fmt.Sprintf(" (%s on %s: %s)", e.Kind, e.Conn, clipCell(e.Error, 80))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\tv%d\t%s\t%s\n", d.Name, d.Version, strings.Join(d.Protocols, ","), strings.Join(d.Transports, ","), d.ABI, shortDigests(d.Source), status)
	}
	return tw.Flush()
}
