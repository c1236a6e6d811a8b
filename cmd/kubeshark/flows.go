package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/mcp"
)

type flowsOpts struct {
	since, until string
	ip           string
	port         int
	protocol     string
	state        string
	pid          int
	comm         string
	cgroupID     uint64
	sort         string
	limit        int
	output       string
}

func newFlowsCmd(g *globals) *cobra.Command {
	o := &flowsOpts{}
	cmd := &cobra.Command{
		Use:   "flows",
		Short: "List stored L4 flows (TCP connections, UDP flows) with their processes and TCP figures",
		Long: `Lists stored L4 flows, oldest first: the list_l4_flows tool of kubeshark mcp,
on the command line. Flows captured live by kubeshark tap carry each local
end's process (PID, command, cgroup v2 id) and what the kernel counted for
the connection (retransmits, resets sent and received, open and close times).

  kubeshark flows --comm nginx
  kubeshark flows --port 6379 --state reset -o json
  kubeshark flows --sort retransmission_rate -n 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFlows(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", "", "only flows that started at or after this time (same forms as calls --since)")
	f.StringVar(&o.until, "until", "", "only flows that started before this time")
	f.StringVar(&o.ip, "ip", "", "either endpoint's IP")
	f.IntVar(&o.port, "port", 0, "either endpoint's port")
	f.StringVar(&o.protocol, "protocol", "", "the L7 protocol the flow carried (http, redis, ...)")
	f.StringVar(&o.state, "state", "", "open, closed, reset, half-closed or active (UDP)")
	f.IntVar(&o.pid, "pid", 0, "a local end's process id (live capture)")
	f.StringVar(&o.comm, "comm", "", "a local end's command name (live capture)")
	f.Uint64Var(&o.cgroupID, "cgroup-id", 0, "a local end's cgroup v2 id (live capture)")
	f.StringVar(&o.sort, "sort", "", "start (default), handshake_rtt, retransmission_rate, bytes or duration")
	f.IntVarP(&o.limit, "limit", "n", 100, "most flows to print (at most 1000)")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json or jsonl")
	return cmd
}

func runFlows(ctx context.Context, g *globals, o *flowsOpts, w io.Writer) error {
	switch o.output {
	case "table", "json", "jsonl":
	default:
		return fmt.Errorf("--output %q: want table, json or jsonl", o.output)
	}
	if o.limit < 1 || o.limit > 1000 {
		return fmt.Errorf("--limit %d: want 1 to 1000", o.limit)
	}
	args := map[string]any{"limit": o.limit}
	for k, v := range map[string]any{"start": o.since, "end": o.until, "ip": o.ip, "port": o.port, "protocol": o.protocol,
		"state": o.state, "pid": o.pid, "comm": o.comm, "cgroup_id": o.cgroupID, "sort": o.sort} {
		switch v := v.(type) {
		case string:
			if v != "" {
				args[k] = v
			}
		case int:
			if v != 0 {
				args[k] = v
			}
		case uint64:
			if v != 0 {
				args[k] = v
			}
		}
	}
	var res mcp.ListFlowsResult
	if url := runningTap(g.dataDir); url != "" {
		if err := hubTool(ctx, g.dataDir, url, "list_l4_flows", args, &res); err != nil {
			return err
		}
	} else {
		st, err := openExistingStore(ctx, g)
		if err != nil {
			return err
		}
		defer st.Close()
		s, err := mcp.New(mcp.Options{Store: st, Version: version, Logger: g.logger()})
		if err != nil {
			return err
		}
		raw, _ := json.Marshal(args)
		out, _, err := s.Call(ctx, "list_l4_flows", raw)
		if err != nil {
			return fmt.Errorf("flows: %w", err)
		}
		res = out.(mcp.ListFlowsResult)
	}
	switch o.output {
	case "json":
		if res.Flows == nil {
			res.Flows = []mcp.FlowView{}
		}
		return writeJSON(w, res.Flows, true)
	case "jsonl":
		for _, f := range res.Flows {
			if err := writeJSON(w, f, false); err != nil {
				return err
			}
		}
		return nil
	}
	if len(res.Flows) == 0 {
		fmt.Fprintf(w, "no flows match (data in %s)\n", g.dataDir)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "START (UTC)\tPROTO\tCLIENT\tSERVER\tSTATE\tCLIENT PROCESS\tSERVER PROCESS\tRETX (KERNEL)\tRESETS\tBYTES\tRECORDS")
	for _, f := range res.Flows {
		retx := fmt.Sprint(f.ClientToServer.Retransmissions + f.ServerToClient.Retransmissions)
		resets := fmt.Sprint(f.ClientToServer.RST + f.ServerToClient.RST)
		if k := f.Kernel; k != nil {
			retx += fmt.Sprintf(" (%d)", k.Retransmits)
			resets = fmt.Sprintf("%d sent, %d received", k.ResetsSent, k.ResetsReceived)
		}
		proto := f.Transport
		if f.Protocol != "" {
			proto += "/" + f.Protocol
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", f.Start.UTC().Format(time.DateTime+".000"), proto,
			f.Client.String(), f.Server.String(), f.State, mcp.ProcessName(f.Client.Process), mcp.ProcessName(f.Server.Process), retx, resets,
			f.ClientToServer.Bytes+f.ServerToClient.Bytes, f.Records)
	}
	tw.Flush()
	if res.NextCursor != "" || res.Truncated {
		fmt.Fprintf(w, "(first %d shown; --limit raises it up to 1000, --since/--until narrow the window)\n", len(res.Flows))
	}
	return nil
}
