package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/kfl"
)

type callsOpts struct {
	filter       string
	filterHelp   bool
	limit        int
	since, until string
	output       string
	newest       bool
}

func newCallsCmd(g *globals) *cobra.Command {
	o := &callsOpts{}
	cmd := &cobra.Command{
		Use:   "calls",
		Short: "List stored API calls",
		Long: `Lists stored records, oldest first.

--filter takes a KFL expression: a boolean CEL expression with Kubeshark's
KFL2 variable names. Protocol flags (http, http2, grpc, dns, redis, kafka,
...), protocol, method, path (url), status_code, failed, elapsed_time
(microseconds) and elapsed_ms, timestamp, src.ip, dst.port,
request.headers / response.headers (lower-case names), request.body, and each
dissector's own fields (redis_command, grpc_status, dns_questions, ...).
Functions: contains, startsWith, endsWith, matches, size, map_get(m, k,
default), now(), duration("5m"), and CEL's list macros (exists, all, ...).
--filter-help prints the full reference.

  kubeshark calls --filter 'http && status_code >= 500'
  kubeshark calls --filter 'http && method == "POST" && url.contains("/api")' -o jsonl
  kubeshark calls --filter 'map_get(request.headers, "user-agent", "").contains("curl")'
  kubeshark calls --filter 'dns && path.endsWith("example.com")'
  kubeshark calls --filter 'elapsed_time > 250000 && !failed'
  kubeshark calls --since 2024-05-01T14:00:00Z --until 2024-05-01T14:15:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.filterHelp {
				return printFilterReference(cmd.Context(), g, cmd.OutOrStdout())
			}
			return runCalls(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.filter, "filter", "f", "", `KFL filter expression, e.g. 'http && status_code >= 500'`)
	f.BoolVar(&o.filterHelp, "filter-help", false, "print the KFL filter reference (variables, dissector fields, functions, examples) and exit")
	f.IntVarP(&o.limit, "limit", "n", 100, "most records to print (0: all)")
	f.StringVar(&o.since, "since", "", "only calls at or after this time: RFC 3339, or a duration before now such as 15m")
	f.StringVar(&o.until, "until", "", "only calls before this time: RFC 3339, or a duration before now")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json or jsonl")
	f.BoolVar(&o.newest, "newest", false, "newest first")
	return cmd
}

// parseWhen accepts RFC 3339 (with or without fractional seconds) or a Go
// duration meaning that long before now.
func parseWhen(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time (2024-05-01T14:00:00Z) or a duration (15m)", flag, s)
}

func runCalls(ctx context.Context, g *globals, o *callsOpts, w io.Writer) error {
	switch o.output {
	case "table", "json", "jsonl":
	default:
		return fmt.Errorf("--output %q: want table, json or jsonl", o.output)
	}
	if o.limit < 0 {
		return fmt.Errorf("--limit %d: must be 0 (all) or more", o.limit)
	}
	prog, err := compileFilter(ctx, g, o.filter)
	if err != nil {
		return err
	}
	since, err := parseWhen("since", o.since)
	if err != nil {
		return err
	}
	until, err := parseWhen("until", o.until)
	if err != nil {
		return err
	}
	if url := runningTap(g.dataDir); url != "" {
		return callsViaTap(ctx, g, url, o, w)
	}
	st, err := openExistingStore(ctx, g)
	if err != nil {
		return err
	}
	defer st.Close()
	page, err := st.Query(ctx, storage.Query{Match: prog, Since: since, Until: until, Limit: o.limit, Newest: o.newest})
	if err != nil {
		return err
	}
	switch o.output {
	case "json":
		recs := page.Records
		if recs == nil {
			recs = []*sdk.Record{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(recs)
	case "jsonl":
		enc := json.NewEncoder(w)
		for _, r := range page.Records {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	printTable(w, page.Records)
	if page.Next != "" && o.limit > 0 {
		fmt.Fprintf(w, "(first %d shown; --limit 0 shows all)\n", o.limit)
	}
	return nil
}

// compileFilter compiles a --filter expression. Most filters use only the
// core variables, which need no dissector, so it compiles against those
// first; only a filter that names something else (a dissector field such
// as redis_command, or a misspelling) pays for loading the built-in
// dissectors to read their manifests, and is compiled again with their
// fields. Loading them compiles their WebAssembly (cached in the data dir
// after the first run), which is why it is not done up front.
func compileFilter(ctx context.Context, g *globals, expr string) (*kfl.Program, error) {
	core, err := kfl.NewEnv(nil)
	if err != nil {
		return nil, err
	}
	p, err := core.Compile(expr)
	var ke *kfl.Error
	if err == nil || !errors.As(err, &ke) || ke.Undeclared() == nil {
		return p, filterErr(err)
	}
	env, lerr := manifestEnv(ctx, g)
	if lerr != nil {
		return nil, filterErr(err) // the core error says what is undeclared
	}
	p, err = env.Compile(expr)
	return p, filterErr(err)
}

func filterErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("--filter: %w", err)
}

// manifestEnv builds the KFL environment with the built-in dissectors'
// fields.
func manifestEnv(ctx context.Context, g *globals) (*kfl.Env, error) {
	l, err := loadDissectors(ctx, g, nil)
	if err != nil {
		return nil, err
	}
	defer l.close(context.Background())
	manifests := make([]sdk.Manifest, len(l.mods))
	for i, m := range l.mods {
		manifests[i] = m.Manifest()
	}
	return kfl.NewEnv(manifests)
}

func printFilterReference(ctx context.Context, g *globals, w io.Writer) error {
	env, err := manifestEnv(ctx, g)
	if err != nil {
		// Without the dissectors the core language is still documented.
		if env, err = kfl.NewEnv(nil); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, env.Reference())
	return err
}

func printTable(w io.Writer, recs []*sdk.Record) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tPROTO\tSRC\tDST\tMETHOD\tPATH\tSTATUS\tMS\tID")
	for _, r := range recs {
		status := strconv.Itoa(r.Status)
		if r.Response == nil && r.Status == 0 {
			status = "-"
		}
		if r.Failed {
			status += "!"
		}
		ms := "-"
		if r.ElapsedMs != nil {
			ms = strconv.FormatFloat(*r.ElapsedMs, 'f', 1, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.Timestamp.UTC().Format("2006-01-02 15:04:05.000"), r.Protocol, r.Src, r.Dst,
			clipCell(r.Method, 16), clipCell(r.Path, 60), status, ms, r.ID)
	}
	tw.Flush()
}

func clipCell(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '.'
		}
		return r
	}, s)
	if len([]rune(s)) > n {
		return string([]rune(s)[:n-1]) + "…"
	}
	return s
}
