package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/analysis"
	"github.com/kubeshark-wasm/kubeshark/storage/kfl"
	"github.com/kubeshark-wasm/kubeshark/storage/timeexpr"
)

type callsOpts struct {
	filter       string
	filterHelp   bool
	limit        int
	since, until string
	output       string
	newest       bool
	local        bool
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
template (the endpoint template, /users/{id}; endpoint is "GET /users/{id}"),
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
  kubeshark calls --filter 'template == "/users/{param}" && failed'
  kubeshark calls --since 2024-05-01T14:00:00Z --until 2024-05-01T14:15:00Z
  kubeshark calls --since 2h --until 1h
  kubeshark calls --since 14:00 --until 14:15   # on the day of the newest data`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.filterHelp {
				return printFilterReference(cmd.Context(), g, cmd.OutOrStdout())
			}
			return runCalls(cmd.Context(), g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.filter, "filter", "f", "", `KFL filter expression, e.g. 'http && status_code >= 500'`)
	f.BoolVar(&o.filterHelp, "filter-help", false, "print the KFL filter reference (variables, dissector fields, functions, examples) and exit")
	f.IntVarP(&o.limit, "limit", "n", 100, "most records to print (0: all)")
	f.StringVar(&o.since, "since", "", `only calls at or after this time: RFC 3339, a date (2026-11-20), "now", an offset back from now (15m, -15m, "2h ago", 1d) or a time of day (14:05, UTC unless --local, on the day of the newest data)`)
	f.StringVar(&o.until, "until", "", "only calls before this time; same forms as --since, and after it")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json or jsonl")
	f.BoolVar(&o.newest, "newest", false, "newest first")
	f.BoolVar(&o.local, "local", false, "show times in the local time zone with their offset (default UTC), and read dates and times of day in --since/--until in it")
	return cmd
}

func runCalls(ctx context.Context, g *globals, o *callsOpts, w, stderr io.Writer) error {
	switch o.output {
	case "table", "json", "jsonl":
	default:
		return fmt.Errorf("--output %q: want table, json or jsonl", o.output)
	}
	if o.limit < 0 {
		return fmt.Errorf("--limit %d: must be 0 (all) or more", o.limit)
	}
	// A running tap holds the store for as long as it captures, and its
	// hub compiles the filter with every field the store knows, a removed
	// plugin's too; compiling here first would wait for that store.
	tapURL := runningTap(g.dataDir)
	var prog *kfl.Program
	if tapURL == "" {
		var err error
		if prog, err = compileFilter(ctx, g, o.filter); err != nil {
			return err
		}
	}
	// The window is checked before the store is opened, so that a typo is
	// reported at once; a time of day is placed again, on the day of the
	// newest data, once the store says which day that is.
	tc := timeexpr.Context{Now: time.Now()}
	if o.local {
		tc.Loc = time.Local
	}
	clock := timeexpr.IsTimeOfDay(o.since) || timeexpr.IsTimeOfDay(o.until)
	win, err := tc.Window("--since", o.since, "--until", o.until)
	if err != nil && (!clock || !errors.Is(err, timeexpr.ErrEmptyWindow)) {
		return err
	}
	if tapURL != "" {
		return callsViaTap(ctx, g, tapURL, o, win, w, stderr)
	}
	st, err := openExistingStore(ctx, g)
	if err != nil {
		return err
	}
	defer st.Close()
	if clock {
		first, last, err := st.Bounds(ctx)
		if err != nil {
			return err
		}
		tc.Ref = last
		if win, err = tc.Window("--since", o.since, "--until", o.until); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "kubeshark: note:", timeexpr.DayNote(win, first, last))
	}
	// Each call is shown with its endpoint template, learned over the
	// store (the rollups make that cheap after the first time), and a
	// filter on templates reads the same ones.
	var memo analysis.TemplateMemo // reads the set cached in the store
	set, err := memo.Templates(ctx, st)
	if err != nil {
		return fmt.Errorf("learning the endpoint templates: %w", err)
	}
	prog.SetTemplates(set)
	page, err := st.Query(ctx, storage.Query{Match: prog, Since: win.Start, Until: win.End, Limit: o.limit, Newest: o.newest})
	if err != nil {
		return err
	}
	tmpls := make([]string, len(page.Records))
	for i, r := range page.Records {
		tmpls[i] = set.OfRecord(r)
	}
	if len(page.Records) == 0 {
		msg, err := noMatch(ctx, st, g, o, win, tc.Loc)
		if err != nil {
			return err
		}
		if done, err := sayNoMatch(o, w, stderr, msg); done {
			return err
		}
	}
	switch o.output {
	case "json":
		recs := make([]templatedRecord, len(page.Records))
		for i, r := range page.Records {
			recs[i] = templatedRecord{r, tmpls[i]}
		}
		return writeJSON(w, recs, true)
	case "jsonl":
		for i, r := range page.Records {
			if err := writeJSON(w, templatedRecord{r, tmpls[i]}, false); err != nil {
				return err
			}
		}
		return nil
	}
	printTable(w, page.Records, tmpls, tc.Loc)
	if page.Next != "" && o.limit > 0 {
		fmt.Fprintf(w, "(first %d shown; --limit 0 shows all)\n", o.limit)
	}
	return nil
}

// noMatch says that nothing matched and, since an empty answer most often
// means a window or filter that misses the data, where the data is.
func noMatch(ctx context.Context, st *storage.Store, g *globals, o *callsOpts, win timeexpr.Window, loc *time.Location) (string, error) {
	n, err := st.Count(ctx)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return fmt.Sprintf("no calls match: the store in %s holds none yet (kubeshark import FILE)", g.dataDir), nil
	}
	first, last, err := st.Bounds(ctx)
	if err != nil {
		return "", err
	}
	return noMatchText(o, win, loc, n, first, last), nil
}

// sayNoMatch writes noMatch's sentence where the output format wants it:
// as the table, or on stderr beside an empty JSON answer. It reports
// whether the output is complete.
func sayNoMatch(o *callsOpts, w, stderr io.Writer, msg string) (bool, error) {
	if o.output == "table" {
		_, err := fmt.Fprintln(w, msg)
		return true, err
	}
	fmt.Fprintln(stderr, "kubeshark:", msg)
	return false, nil
}

// noMatchText is noMatch's sentence for a store holding n calls from first
// to last.
func noMatchText(o *callsOpts, win timeexpr.Window, loc *time.Location, n int, first, last time.Time) string {
	var asked []string
	if o.filter != "" {
		asked = append(asked, "--filter "+o.filter)
	}
	if !win.Start.IsZero() {
		asked = append(asked, "--since "+formatTime(win.Start, loc))
	}
	if !win.End.IsZero() {
		asked = append(asked, "--until "+formatTime(win.End, loc))
	}
	what := ""
	if len(asked) > 0 {
		what = " (" + strings.Join(asked, ", ") + ")"
	}
	return fmt.Sprintf("no calls match%s; the store holds %s from %s to %s", what, plural(n, "call"), formatTime(first, loc), formatTime(last, loc))
}

// formatTime writes a time for people: UTC with a Z, or, with --local, in
// the local zone with its offset.
func formatTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		return t.UTC().Format("2006-01-02 15:04:05.000Z")
	}
	return t.In(loc).Format("2006-01-02 15:04:05.000-07:00")
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
	var ke *kfl.Error
	if errors.As(err, &ke) && ke.Undeclared() != nil {
		// Most often a plugin's field with the plugin not installed here
		// (another data directory, a failed install) or a typo.
		return fmt.Errorf("--filter: %w; calls --filter-help lists the variables, a plugin's once it is installed and enabled in this data directory (kubeshark plugin list)", err)
	}
	return fmt.Errorf("--filter: %w", err)
}

// manifestEnv builds the KFL environment with the fields of the built-in
// dissectors, of the enabled plugins and of the dissectors whose records
// are stored.
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
	// Fields of dissectors no longer loaded (a removed plugin) whose
	// records are still stored.
	manifests = append(manifests, unloadedManifests(ctx, g, nil, l)...)
	return kfl.NewEnv(manifests)
}

func printFilterReference(ctx context.Context, g *globals, w io.Writer) error {
	if url := runningTap(g.dataDir); url != "" {
		ref, err := filterReferenceViaTap(ctx, g, url)
		if err == nil {
			_, err = io.WriteString(w, ref)
			return err
		}
		g.logger().Warn("reading the filter reference from the running tap; the fields of removed plugins are not listed", "err", err)
	}
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

// templatedRecord is a record as the JSON outputs show it: its own
// fields, then its endpoint template.
type templatedRecord struct {
	r        *sdk.Record
	template string
}

// MarshalJSON appends "template" to the record's own object.
func (t templatedRecord) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(t.r)
	if err != nil || t.template == "" || len(b) < 2 || b[len(b)-1] != '}' {
		return b, err
	}
	v, err := json.Marshal(t.template)
	if err != nil {
		return nil, err
	}
	out := append(b[:len(b)-1:len(b)-1], `,"template":`...)
	return append(append(out, v...), '}'), nil
}

// printTable lists records with their templates (tmpls, one per record,
// or nil), times in UTC or, with loc (--local), in that zone; the header
// says which, as the times themselves do not.
func printTable(w io.Writer, recs []*sdk.Record, tmpls []string, loc *time.Location) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	zone, layout := "UTC", "2006-01-02 15:04:05.000"
	if loc != nil {
		zone, layout = "local", "2006-01-02 15:04:05.000-07:00"
	}
	// The workloads column appears when any record has a name (a store
	// with a workload history): "namespace/name → namespace/name".
	named := slices.ContainsFunc(recs, func(r *sdk.Record) bool { return r.Src.Name != "" || r.Dst.Name != "" })
	workloads := ""
	if named {
		workloads = "WORKLOADS (SRC → DST)\t"
	}
	fmt.Fprintf(tw, "TIME (%s)\tPROTO\tSRC\tDST\t%sMETHOD\tPATH\tTEMPLATE\tSTATUS\tMS\tID\n", zone, workloads)
	for i, r := range recs {
		// "=" where the template is the path itself (less any query),
		// which keeps the column quiet on routes without identifiers.
		tmpl := "="
		if i < len(tmpls) && tmpls[i] != "" && tmpls[i] != pathWithoutQuery(r.Path) {
			tmpl = tmpls[i]
		}
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
		cell := ""
		if named {
			cell = workloadName(r.Src) + " → " + workloadName(r.Dst) + "\t"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s%s\t%s\t%s\t%s\t%s\t%s\n",
			timeIn(r.Timestamp, loc).Format(layout), r.Protocol, r.Src, r.Dst, cell,
			clipCell(r.Method, 16), clipCell(r.Path, 60), clipCell(tmpl, 40), status, ms, r.ID)
	}
	tw.Flush()
}

func pathWithoutQuery(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		return p[:i]
	}
	return p
}

// workloadName is "namespace/name" for a named endpoint, "-" otherwise.
func workloadName(e sdk.Endpoint) string {
	switch {
	case e.Name == "":
		return "-"
	case e.Namespace == "":
		return e.Name
	}
	return e.Namespace + "/" + e.Name
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

func timeIn(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		return t.UTC()
	}
	return t.In(loc)
}
