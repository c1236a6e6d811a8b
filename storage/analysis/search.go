package analysis

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Where a search looks.
const (
	InAll     = "all"     // path, headers and bodies
	InHeaders = "headers" // request and response headers, "Name: value"
	InBodies  = "bodies"  // request and response bodies
	InBoth    = "both"    // headers and bodies
	InPath    = "path"    // the record's path (with its query string)
)

// Search bounds.
const (
	DefaultSearchLimit = 20
	MaxSearchLimit     = 500
	// maxMatchesPerRecord caps the matches reported for one record.
	maxMatchesPerRecord = 5
	// snippetContext is how many bytes of context a snippet shows on each
	// side of the match.
	snippetContext = 40
	maxPathShown   = 200
)

// SearchQuery describes a payload search. Exactly one of Substring and
// Regex is set.
type SearchQuery struct {
	Window Window
	Match  storage.Matcher
	// Substring is searched literally.
	Substring string
	// Regex is an RE2 regular expression (Go's regexp syntax).
	Regex           string
	CaseInsensitive bool
	// In is all (default), headers, bodies, both (headers and bodies) or
	// path.
	In string
	// Limit is how many matching records to list, oldest first: 0 means
	// DefaultSearchLimit; at most MaxSearchLimit.
	Limit int
}

// PayloadMatch is one place a record matched.
type PayloadMatch struct {
	// Where is "path", "request.body", "response.body",
	// "request.header:<Name>" or "response.header:<Name>".
	Where string `json:"where"`
	// Snippet is the match with up to 40 bytes of context each side,
	// control characters escaped; "…" marks cut context.
	Snippet string `json:"snippet"`
}

// SearchHit is a record that matched.
type SearchHit struct {
	ID        string         `json:"id"`
	Timestamp time.Time      `json:"timestamp"`
	Protocol  string         `json:"protocol"`
	Method    string         `json:"method,omitempty"`
	Path      string         `json:"path,omitempty"`
	Status    int            `json:"status"`
	Src       string         `json:"src"`
	Dst       string         `json:"dst"`
	Matches   []PayloadMatch `json:"matches"`
}

// SearchResult is what SearchPayloads returns.
type SearchResult struct {
	Window  Window      `json:"window"`
	Pattern string      `json:"pattern"`
	In      string      `json:"in"`
	Hits    []SearchHit `json:"hits"`
	// RecordsScanned is how many records were read before the search
	// stopped (at Limit hits, or at the end of the window).
	RecordsScanned int `json:"records_scanned"`
	// Truncated says that more records match than are listed.
	Truncated bool   `json:"truncated"`
	Summary   string `json:"summary"`
}

// finder returns the spans where a pattern occurs in s, up to n.
type finder func(s string, n int) [][]int

func newFinder(q SearchQuery) (finder, string, error) {
	switch {
	case q.Substring != "" && q.Regex != "":
		return nil, "", fmt.Errorf("%w: search: give a substring or a regex, not both", ErrBadQuery)
	case q.Substring == "" && q.Regex == "":
		return nil, "", fmt.Errorf("%w: search: no substring or regex given", ErrBadQuery)
	case q.Substring != "" && !q.CaseInsensitive:
		sub := q.Substring
		return func(s string, n int) [][]int {
			var out [][]int
			for off := 0; len(out) < n; {
				i := strings.Index(s[off:], sub)
				if i < 0 {
					break
				}
				out = append(out, []int{off + i, off + i + len(sub)})
				off += i + len(sub)
			}
			return out
		}, sub, nil
	}
	expr := q.Regex
	if q.Substring != "" {
		expr = regexp.QuoteMeta(q.Substring)
	}
	pattern := expr
	if q.CaseInsensitive {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, "", fmt.Errorf("%w: search regex %q: %w", ErrBadQuery, q.Regex, err)
	}
	return func(s string, n int) [][]int {
		var out [][]int
		// Empty matches (of a* and the like) say nothing; they are skipped,
		// and the extra room lets a few of them pass without hiding real
		// matches. Searching all of s, rather than from an offset, keeps ^
		// and \b anchored to the real text.
		for _, m := range re.FindAllStringIndex(s, 4*n+64) {
			if m[1] > m[0] {
				out = append(out, m)
				if len(out) == n {
					break
				}
			}
		}
		return out
	}, pattern, nil
}

// searchParts says which parts of a record In covers.
func searchParts(in string) (path, headers, bodies bool, err error) {
	switch in {
	case "", InAll:
		return true, true, true, nil
	case InHeaders:
		return false, true, false, nil
	case InBodies:
		return false, false, true, nil
	case InBoth:
		return false, true, true, nil
	case InPath:
		return true, false, false, nil
	}
	return false, false, false, fmt.Errorf("%w: search: unknown in %q (want all, headers, bodies, both or path)", ErrBadQuery, in)
}

// SearchPayloads finds the records whose path, headers or bodies contain a
// substring or match a regular expression, and says where, with a snippet
// around each match. Binary (base64) bodies are searched decoded. It stops
// reading once Limit records matched and one more was found.
func SearchPayloads(ctx context.Context, src Source, q SearchQuery) (SearchResult, error) {
	find, pattern, err := newFinder(q)
	if err != nil {
		return SearchResult{}, err
	}
	inPath, inHeaders, inBodies, err := searchParts(q.In)
	if err != nil {
		return SearchResult{}, err
	}
	if err := q.Window.check(); err != nil {
		return SearchResult{}, err
	}
	in := q.In
	if in == "" {
		in = InAll
	}
	limit := capLimit(q.Limit, DefaultSearchLimit, MaxSearchLimit)
	res := SearchResult{Window: q.Window, Pattern: pattern, In: in, Hits: []SearchHit{}}
	err = scan(ctx, src, q.Window, q.Match, inBodies, func(r *sdk.Record) bool {
		res.RecordsScanned++
		var ms []PayloadMatch
		look := func(where, s string) {
			for _, m := range find(s, maxMatchesPerRecord-len(ms)) {
				ms = append(ms, PayloadMatch{Where: where, Snippet: snippet(s, m[0], m[1])})
			}
		}
		if inPath {
			look("path", r.Path)
		}
		for _, side := range []struct {
			name string
			m    *sdk.Message
		}{{"request", r.Request}, {"response", r.Response}} {
			if side.m == nil {
				continue
			}
			if inHeaders {
				for _, h := range side.m.Headers {
					if len(ms) < maxMatchesPerRecord {
						look(side.name+".header:"+h.Name, h.Name+": "+h.Value)
					}
				}
			}
			if inBodies && len(ms) < maxMatchesPerRecord {
				look(side.name+".body", bodyText(side.m))
			}
		}
		if len(ms) == 0 {
			return true
		}
		if len(res.Hits) == limit {
			res.Truncated = true
			return false
		}
		res.Hits = append(res.Hits, SearchHit{
			ID: r.ID, Timestamp: r.Timestamp.UTC(), Protocol: r.Protocol, Method: r.Method, Path: clip(r.Path, maxPathShown),
			Status: r.Status, Src: r.Src.String(), Dst: r.Dst.String(), Matches: ms,
		})
		return true
	})
	if err != nil {
		return SearchResult{}, fmt.Errorf("analysis: search for %q: %w", pattern, err)
	}
	res.Summary = searchSummary(res)
	return res, nil
}

// bodyText is the body as text, decoded when stored as base64.
func bodyText(m *sdk.Message) string {
	if m.Encoding == "base64" {
		if b, err := base64.StdEncoding.DecodeString(m.Body); err == nil {
			return string(b)
		}
	}
	return m.Body
}

// snippet shows s[i:j] with context, cut on rune boundaries and with
// control and invalid bytes escaped so it reads on one line.
func snippet(s string, i, j int) string {
	a, b := max(i-snippetContext, 0), min(j+snippetContext, len(s))
	for a > 0 && !utf8.RuneStart(s[a]) {
		a--
	}
	for b < len(s) && !utf8.RuneStart(s[b]) {
		b++
	}
	var out strings.Builder
	if a > 0 {
		out.WriteString("…")
	}
	for k := a; k < b; {
		r, size := utf8.DecodeRuneInString(s[k:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&out, `\x%02x`, s[k])
		case r == '\n':
			out.WriteString(`\n`)
		case r == '\r':
			out.WriteString(`\r`)
		case r == '\t':
			out.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&out, `\x%02x`, r)
		case !unicode.IsPrint(r) && r != ' ':
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			out.WriteRune(r)
		}
		k += size
	}
	if b < len(s) {
		out.WriteString("…")
	}
	return out.String()
}

func searchSummary(r SearchResult) string {
	if len(r.Hits) == 0 {
		return fmt.Sprintf("no records match %q in %s (%d scanned)", r.Pattern, r.In, r.RecordsScanned)
	}
	more := ""
	if r.Truncated {
		more = " (more exist)"
	}
	where := map[string]bool{}
	var places []string
	for _, h := range r.Hits {
		for _, m := range h.Matches {
			w := m.Where
			if i := strings.IndexByte(w, ':'); i >= 0 {
				w = w[:i]
			}
			if !where[w] {
				where[w] = true
				places = append(places, w)
			}
		}
	}
	return fmt.Sprintf("%d records match %q%s, in %s; first %s %s %s", len(r.Hits), r.Pattern, more, strings.Join(places, ", "),
		r.Hits[0].ID, r.Hits[0].Protocol, clip(r.Hits[0].Path, 80))
}
