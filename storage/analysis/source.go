package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Source is where the analyses read records. *storage.Store satisfies it;
// tests and wrappers (a store that adds access control, say) can too.
type Source interface {
	Query(ctx context.Context, q storage.Query) (storage.Page, error)
}

// ErrBadQuery is wrapped by the errors of a query the analyses refuse (an
// unknown group-by, a window that ends before it starts, a bad regular
// expression, ...), so callers can tell a caller's mistake from a storage
// failure.
var ErrBadQuery = errors.New("analysis: bad query")

// pageSize is how many records each storage query returns: large enough
// that the per-query cost (a transaction and a seek) vanishes, small enough
// that a page is a bounded amount of memory.
const pageSize = 1000

// Window is a time range of record Timestamps: Start inclusive, End
// exclusive. A zero side is open; results report the window resolved to the
// records actually found.
type Window struct {
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
}

// String renders the window for messages, "…" standing for an open side.
func (w Window) String() string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "…"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return "[" + f(w.Start) + ", " + f(w.End) + ")"
}

// Duration is End-Start, or 0 when a side is open.
func (w Window) Duration() time.Duration {
	if w.Start.IsZero() || w.End.IsZero() {
		return 0
	}
	return w.End.Sub(w.Start)
}

func (w Window) check() error {
	if !w.Start.IsZero() && !w.End.IsZero() && !w.End.After(w.Start) {
		return fmt.Errorf("%w: window %s ends before it starts", ErrBadQuery, w)
	}
	return nil
}

// resolve closes the open sides of w at the oldest and newest records in
// it, so time series and per-minute rates have a span to divide. The probes
// ignore any Matcher: they are two short seeks, where a Matcher could make
// them scan everything. An empty window stays as it was.
func resolve(ctx context.Context, src Source, w Window) (Window, error) {
	if err := w.check(); err != nil {
		return w, err
	}
	if !w.Start.IsZero() && !w.End.IsZero() {
		return w, nil
	}
	q := storage.Query{Since: w.Start, Until: w.End, Limit: 1}
	if w.Start.IsZero() {
		p, err := src.Query(ctx, q)
		if err != nil {
			return w, fmt.Errorf("analysis: find the oldest record in %s: %w", w, err)
		}
		if len(p.Records) == 0 {
			return w, nil
		}
		w.Start = p.Records[0].Timestamp
	}
	if w.End.IsZero() {
		q.Newest = true
		p, err := src.Query(ctx, q)
		if err != nil {
			return w, fmt.Errorf("analysis: find the newest record in %s: %w", w, err)
		}
		if len(p.Records) == 0 {
			return w, nil
		}
		// End is exclusive: one nanosecond past the newest record keeps it.
		w.End = p.Records[0].Timestamp.Add(time.Nanosecond)
	}
	return w, nil
}

// scan hands every record of w that m selects to fn, oldest first, until fn
// returns false. Bodies are read only when asked for: they are stored apart
// and cost a lookup per record.
func scan(ctx context.Context, src Source, w Window, m storage.Matcher, bodies bool, fn func(*sdk.Record) bool) error {
	return each(ctx, src, w, storage.Query{Match: m, Since: w.Start, Until: w.End, Limit: pageSize, WithBodies: bodies}, fn)
}

// scanSizes is scan for callers that read no message headers nor fields,
// only sizes: decoding those was most of a rollup's cost. m may still read
// them: the store then decodes them for m (storage.Query.SizesOnly).
func scanSizes(ctx context.Context, src Source, w Window, m storage.Matcher, fn func(*sdk.Record) bool) error {
	return each(ctx, src, w, storage.Query{Match: m, Since: w.Start, Until: w.End, Limit: pageSize, SizesOnly: true}, fn)
}

func each(ctx context.Context, src Source, w Window, q storage.Query, fn func(*sdk.Record) bool) error {
	for {
		p, err := src.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("analysis: read records in %s: %w", w, err)
		}
		for _, r := range p.Records {
			if !fn(r) {
				return nil
			}
		}
		if p.Next == "" {
			return nil
		}
		q.Cursor = p.Next
	}
}

// node identifies a host: by workload name when the capture source knows
// it (pods of one service then count as one), else by IP. Client ports are
// ephemeral, so a node never includes one. A struct rather than a string so
// that building a map key costs no allocation per record.
type node struct {
	ip, name, ns string
}

func nodeOf(e *sdk.Endpoint) node {
	if e.Name != "" {
		return node{name: e.Name, ns: e.Namespace}
	}
	return node{ip: e.IP}
}

// String is "namespace/name", "name" or the IP.
func (n node) String() string {
	switch {
	case n.name == "":
		return n.ip
	case n.ns == "":
		return n.name
	}
	return n.ns + "/" + n.name
}

// serverLabel is the node with the server port: "orders/api:8080",
// "10.0.0.3:80" or "[fd00::3]:80".
func serverLabel(n node, port uint16) string {
	if n.name == "" {
		return sdk.Endpoint{IP: n.ip, Port: port}.String()
	}
	return n.String() + ":" + strconv.Itoa(int(port))
}

// hasResponse reports whether a response was seen: some dissectors leave
// Response nil but time the exchange, others the reverse.
func hasResponse(r *sdk.Record) bool { return r.Response != nil || r.ElapsedMs != nil }

func wireSize(m *sdk.Message) int64 {
	if m == nil {
		return 0
	}
	return m.Size
}

// round keeps d decimals: figures meant for reading, not for re-deriving.
func round(x float64, d int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	p := math.Pow10(d)
	return math.Round(x*p) / p
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// pct renders a fraction as a percentage for summaries.
func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

// ms renders milliseconds for summaries.
func ms(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "ms" }

// join renders up to n items, then how many more.
func join(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

// capLimit applies a default to a zero or negative limit and a ceiling to
// any, keeping every result bounded whatever the caller asks.
func capLimit(n, def, max int) int {
	if n <= 0 {
		return def
	}
	return min(n, max)
}
