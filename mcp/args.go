package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrBadArgument reports a tool argument that is unknown, of the wrong type
// or out of range.
var ErrBadArgument = errors.New("bad argument")

// ErrDestructive reports a tool that changes state called on a server that
// was not started with AllowDestructive.
var ErrDestructive = errors.New("destructive tools are disabled")

// argAliases are the names a model guesses (from Kubeshark's tools, other
// MCP servers or habit) for arguments that have another name here: each
// alias maps to the canonical names it can stand for, tried in order; the
// first one the tool takes is used.
var argAliases = map[string][]string{
	"snapshot_id": {"snapshot", "id"},
	"snapshotId":  {"snapshot", "id"},
	"service":     {"endpoint", "name"},
	"server":      {"endpoint"},
	"workload":    {"endpoint", "name"},
	"node":        {"endpoint"},
	"bpf_filter":  {"bpf"},
	"filter":      {"kfl"},
	"kfl_filter":  {"kfl"},
	"query":       {"kfl"},
	"call_id":     {"id"},
	"flow_id":     {"id"},
	"api_call_id": {"id"},
	"start_time":  {"start"},
	"end_time":    {"end"},
	"from":        {"start"},
	"to":          {"end"},
	"since":       {"start"},
	"until":       {"end"},
	"max_results": {"limit"},
	"page_size":   {"limit"},
	"limit":       {"top"},
	"page_token":  {"cursor"},
	"next_cursor": {"cursor"},
	"dissector":   {"name"},
	"ip_address":  {"ip"},
}

// decodeArgs fills a tool's argument struct. Known aliases are renamed to
// the tool's own names; a name the tool does not take is an error that
// suggests the closest one, so that a misspelt argument is never silently
// ignored.
func decodeArgs(raw json.RawMessage, into any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%w: arguments must be a JSON object: %w", ErrBadArgument, err)
	}
	fields := jsonFields(into)
	takes := map[string]bool{}
	for _, f := range fields {
		takes[f] = true
	}
	renamed := false
	for _, name := range sortedKeys(m) {
		if takes[name] {
			continue
		}
		canon := ""
		for _, c := range argAliases[name] {
			if takes[c] {
				canon = c
				break
			}
		}
		if canon == "" {
			return fmt.Errorf("%w: %s", ErrBadArgument, unknownArg(name, fields))
		}
		if _, both := m[canon]; both {
			return fmt.Errorf("%w: %s and %s are the same argument here; pass only %s", ErrBadArgument, name, canon, canon)
		}
		m[canon] = m[name]
		delete(m, name)
		renamed = true
	}
	if renamed {
		raw, _ = json.Marshal(m)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			return fmt.Errorf("%w: %q must be %s, got %s", ErrBadArgument, ute.Field, jsonKind(ute.Type.String()), ute.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			return fmt.Errorf("%w: %s", ErrBadArgument, unknownArg(name, fields))
		}
		return fmt.Errorf("%w: %w", ErrBadArgument, err)
	}
	return nil
}

// jsonKind names a Go type as JSON calls it, for type errors.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map"):
		return "an object"
	}
	return goType
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unknownArg words the error for an argument a tool does not take: the
// closest name it does take (by edit distance, or one that contains the
// other), then all of them.
func unknownArg(name string, fields []string) string {
	msg := fmt.Sprintf("unknown argument %q", name)
	if best := closest(name, fields); best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	}
	if len(fields) == 0 {
		return msg + "; this tool takes no arguments"
	}
	return msg + "; this tool takes " + strings.Join(fields, ", ")
}

// closest returns the candidate nearest to name, or "" when none is near
// enough to be a likely intent. A near miss of a known alias
// (bpf_fliter) suggests the name the alias stands for here (bpf).
func closest(name string, candidates []string) string {
	lname := strings.ToLower(strings.ReplaceAll(name, "-", "_"))
	takes := map[string]bool{}
	for _, c := range candidates {
		takes[c] = true
	}
	for alias, canon := range argAliases {
		// Short aliases (to, from) are near too many words to guess from.
		if len(alias) < 6 || editDistance(lname, strings.ToLower(alias)) > len(alias)/5 {
			continue
		}
		for _, c := range canon {
			if takes[c] {
				return c
			}
		}
	}
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := editDistance(lname, c)
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= max(2, len(best)/3) {
		return best
	}
	for _, c := range candidates {
		if len(c) >= 3 && len(lname) >= 3 && (strings.Contains(lname, c) || strings.Contains(c, lname)) {
			return c
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// window is a resolved time range; zero sides are open.
type window struct {
	Start, End time.Time
}

// clampLimit applies a default and a ceiling to a page size.
func clampLimit(name string, n, def, max int) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0:
		return 0, fmt.Errorf("%w: %s must be positive, got %d", ErrBadArgument, name, n)
	case n > max:
		return 0, fmt.Errorf("%w: %s must be at most %d, got %d; ask for %d and follow next_cursor, or narrow the window or filter", ErrBadArgument, name, max, n, max)
	}
	return n, nil
}

func oneOf(name, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%w: %s %q: want one of %s", ErrBadArgument, name, v, strings.Join(allowed, ", "))
}
