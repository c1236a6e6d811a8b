package mcp

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/analysis"
	"github.com/kubeshark-wasm/kubeshark/storage/kfl"
	"github.com/kubeshark-wasm/kubeshark/storage/templates"
)

// maxResultBytes caps one answer's JSON so that a single call cannot flood
// a model's context; a result cut short says truncated and how to go on.
const maxResultBytes = 256 << 10

// Window is the time range an answer covers, as resolved.
type Window struct {
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
}

func (w window) out() Window {
	var o Window
	if !w.Start.IsZero() {
		t := w.Start
		o.Start = &t
	}
	if !w.End.IsZero() {
		t := w.End
		o.End = &t
	}
	return o
}

func (w window) String() string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "…"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return f(w.Start) + " – " + f(w.End)
}

type listCallsArgs struct {
	KFL    string `json:"kfl,omitempty" jsonschema:"KFL filter (CEL), e.g. http && status_code >= 500, or the calls of one endpoint of get_api_stats/find_anomalies: endpoint == \"GET /users/{param}\" (template == \"/users/{param}\" for any method); see the kubeshark://kfl resource"`
	Start  string `json:"start,omitempty" jsonschema:"window start: RFC 3339, a date (2026-11-20), -15m, 2h ago, 1d, or a time of day like 14:05 (UTC, on the day of the newest data; the answer's resolved_times says which day)"`
	End    string `json:"end,omitempty" jsonschema:"window end, same forms as start"`
	Limit  int    `json:"limit,omitempty" jsonschema:"page size, default 50, at most 1000"`
	Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page, with the same other arguments"`
	Format string `json:"format,omitempty" jsonschema:"compact (default: one line of facts per call) or full (headers, protocol fields, 1 KiB of each body)"`
	Order  string `json:"order,omitempty" jsonschema:"newest (default) or oldest first"`
	snapshotArg
}

// snapshotArg lets a tool read a snapshot instead of the live data.
type snapshotArg struct {
	Snapshot string `json:"snapshot,omitempty" jsonschema:"read this snapshot (list_snapshots) instead of the live data"`
}

// ListCallsResult is list_api_calls' answer.
type ListCallsResult struct {
	Calls    []Call `json:"calls"`
	Returned int    `json:"returned"`
	// NextCursor continues the listing; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
	// Truncated is true when more calls match than this page holds.
	Truncated bool   `json:"truncated"`
	Filter    string `json:"filter,omitempty"`
	Window    Window `json:"window"`
}

type getCallArgs struct {
	ID             string `json:"id" jsonschema:"call id from list_api_calls"`
	IncludePayload *bool  `json:"include_payload,omitempty" jsonschema:"include request and response bodies (default true)"`
	MaxPayloadSize int    `json:"max_payload_size,omitempty" jsonschema:"most body bytes per side, default 65536"`
	IncludeL4      bool   `json:"include_l4,omitempty" jsonschema:"attach the L4 flow (handshake RTT, retransmissions, ...) that carried the call"`
	snapshotArg
}

// GetCallResult is get_api_call's answer.
type GetCallResult struct {
	Call Call `json:"call"`
	// Flow is the L4 connection, when include_l4 was set and it is stored.
	Flow *FlowView `json:"flow,omitempty"`
}

func (s *Server) callTools() []tool {
	return []tool{
		newTool(toolSpec{name: "list_api_calls", title: "List API calls",
			desc: "List captured API calls (HTTP, gRPC, DNS, Redis, SQL, Kafka, ...) in a time window, optionally filtered with KFL. Newest first, paginated (limit ≤ 1000, next_cursor). Use get_api_call for payloads. Use it to see the calls themselves once you know what to look for (a status, a path, a server: KFL such as http && status_code >= 500 or dst.ip == \"10.0.0.30\"). Next: get_api_call on an id for headers and bodies; get_api_stats or find_anomalies for the aggregate picture."},
			s.listCalls),
		newTool(toolSpec{name: "get_api_call", title: "Get one API call",
			desc: "One API call in full: request and response headers, protocol fields and bodies (capped by max_payload_size), and with include_l4 the TCP connection's figures. Use it on an id from list_api_calls, find_anomalies (example_ids) or search_payloads to read the evidence, e.g. the error body a 503 carried. Next: get_tcp_insights with call_id for the connection, or list_api_calls with a KFL filter for calls like it."},
			s.getCall),
	}
}

// kflMatcher compiles a KFL filter, or returns nil for an empty one. A
// filter that reads templates (template == "/users/{param}") is given
// those learned over src, the data it will select from; without src (an
// export filter, checked before its snapshot is read) it reads shapes.
func (s *Server) kflMatcher(ctx context.Context, expr string, src analysis.Source) (storage.Matcher, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	p, err := s.kfl().Compile(expr)
	if err != nil {
		return nil, err
	}
	if src != nil && p.ReadsTemplates() {
		set, err := s.templates.Templates(ctx, src)
		if err != nil {
			return nil, err
		}
		p.SetTemplates(set)
	}
	return p, nil
}

func (s *Server) listCalls(ctx context.Context, a listCallsArgs) (ListCallsResult, string, error) {
	var res ListCallsResult
	limit, err := clampLimit("limit", a.Limit, 50, 1000)
	if err != nil {
		return res, "", err
	}
	if a.Format == "" {
		a.Format = "compact"
	}
	if err := oneOf("format", a.Format, "compact", "full"); err != nil {
		return res, "", err
	}
	if a.Order == "" {
		a.Order = "newest"
	}
	if err := oneOf("order", a.Order, "newest", "oldest"); err != nil {
		return res, "", err
	}
	w, err := s.window(ctx, a.Start, a.End)
	if err != nil {
		return res, "", err
	}
	st, err := s.storeFor(ctx, a.Snapshot)
	if err != nil {
		return res, "", err
	}
	m, err := s.kflMatcher(ctx, a.KFL, st)
	if err != nil {
		return res, "", err
	}
	page, err := st.Query(ctx, storage.Query{
		Match: m, Since: w.Start, Until: w.End, Limit: limit, Cursor: a.Cursor,
		Newest: a.Order == "newest", WithBodies: a.Format == "full",
	})
	if err != nil {
		return res, "", err
	}
	view := compactView
	if a.Format == "full" {
		view = fullView
	}
	res = ListCallsResult{Calls: make([]Call, 0, len(page.Records)), Filter: a.KFL, Window: w.out(), NextCursor: page.Next, Truncated: page.Next != ""}
	// The page is cut where its JSON would pass the answer limit, leaving
	// room for the fields around the list; the cursor then continues after
	// the last call kept.
	budget := s.opts.MaxResultBytes - 1024 - 2*len(a.KFL)
	size := 0
	set, err := s.callTemplates(ctx, st, m)
	if err != nil {
		return res, "", err
	}
	for _, r := range page.Records {
		c := toCall(r, view)
		c.Template = set.OfRecord(r)
		b, _ := marshalCompact(c)
		if size+len(b)+1 > budget && len(res.Calls) > 0 {
			res.NextCursor, res.Truncated = res.Calls[len(res.Calls)-1].ID, true
			break
		}
		size += len(b) + 1
		res.Calls = append(res.Calls, c)
	}
	res.Returned = len(res.Calls)
	return res, callsText(res), nil
}

// callsText is list_api_calls' summary line; the calls follow as JSON.
func callsText(res ListCallsResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d calls", res.Returned)
	if res.Filter != "" {
		fmt.Fprintf(&b, " matching %q", res.Filter)
	}
	failed := 0
	for _, c := range res.Calls {
		if c.Failed {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(&b, ", %d failed", failed)
	}
	if res.Truncated {
		b.WriteString(" (more: pass cursor=" + res.NextCursor + ")")
	}
	b.WriteString("; get_api_call ID shows one in full")
	return b.String()
}

// callTemplates is the templates calls of st are shown with: those the
// filter m learned when it has them, else learned now.
func (s *Server) callTemplates(ctx context.Context, st analysis.Source, m storage.Matcher) (*templates.Set, error) {
	if p, ok := m.(*kfl.Program); ok && p.Templates() != nil {
		return p.Templates(), nil
	}
	set, err := s.templates.Templates(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("learning the endpoint templates: %w", err)
	}
	return set, nil
}

// callLine is one call as a log line.
func callLine(c Call) string {
	el := "-"
	if c.ElapsedMs != nil {
		el = fmt.Sprintf("%.1fms", *c.ElapsedMs)
	}
	failed := ""
	if c.Failed {
		failed = " FAILED"
	}
	tmpl := ""
	if c.Template != "" && c.Template != c.Path {
		tmpl = " (" + c.Template + ")"
	}
	return fmt.Sprintf("%s %s %s → %s %s %s%s %s %d%s %s [%s]", c.Timestamp.Format("2006-01-02T15:04:05.000Z"), c.Protocol,
		c.Src.String(), c.Dst.String(), c.Method, c.Path, tmpl, el, c.Status, failed, c.Summary, c.ID)
}

func (s *Server) getCall(ctx context.Context, a getCallArgs) (GetCallResult, string, error) {
	var res GetCallResult
	if a.ID == "" {
		return res, "", fmt.Errorf("%w: id is required: take one from list_api_calls, search_payloads or find_anomalies (example_ids)", ErrBadArgument)
	}
	max, err := clampLimit("max_payload_size", a.MaxPayloadSize, 64<<10, 1<<20)
	if err != nil {
		return res, "", err
	}
	st, err := s.storeFor(ctx, a.Snapshot)
	if err != nil {
		return res, "", err
	}
	rec, err := st.Get(ctx, a.ID)
	if err != nil {
		return res, "", notFound(err, "call", a.ID, callHint)
	}
	view := callView{headers: true, fields: true, body: max}
	if a.IncludePayload != nil && !*a.IncludePayload {
		view.body = 0
	}
	set, err := s.callTemplates(ctx, st, nil)
	if err != nil {
		return res, "", err
	}
	tmpl := set.OfRecord(rec)
	res.Call = toCall(rec, view)
	res.Call.Template = tmpl
	// Bodies that would pass the answer limit are cut further (and say
	// body_truncated); max_payload_size can ask for less, never more.
	for view.body > 256 {
		b, _ := marshalCompact(res.Call)
		if len(b) <= s.opts.MaxResultBytes-8<<10 {
			break
		}
		view.body /= 2
		res.Call = toCall(rec, view)
		res.Call.Template = tmpl
	}
	if a.IncludeL4 && rec.Stream != "" {
		if f, err := st.Flow(ctx, rec.Stream); err == nil {
			v := toFlowView(f)
			res.Flow = &v
		}
	}
	text := callLine(res.Call)
	if res.Flow != nil {
		text += "; connection " + res.Flow.ID + " (get_tcp_insights for its TCP figures)"
	}
	return res, text, nil
}
