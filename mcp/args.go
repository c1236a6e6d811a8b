package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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

// decodeArgs fills a tool's argument struct, refusing names the tool does
// not take so that a misspelt argument is an error rather than silently
// ignored.
func decodeArgs(raw json.RawMessage, into any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			return fmt.Errorf("%w: %q must be %s, got %s", ErrBadArgument, ute.Field, ute.Type, ute.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.TrimPrefix(err.Error(), "json: unknown field ")
			return fmt.Errorf("%w: unknown argument %s; this tool takes %s", ErrBadArgument, name, strings.Join(jsonFields(into), ", "))
		}
		return fmt.Errorf("%w: %w", ErrBadArgument, err)
	}
	return nil
}

// window is a resolved time range; zero sides are open.
type window struct {
	Start, End time.Time
}

// relTime matches offsets such as -15m, now-2h, 90s ago.
var relTime = regexp.MustCompile(`^(?:now\s*)?-\s*([0-9.]+(?:ns|us|µs|ms|s|m|h)(?:[0-9.]+(?:ns|us|µs|ms|s|m|h))*)$|^([0-9.]+(?:ns|us|µs|ms|s|m|h)(?:[0-9.]+(?:ns|us|µs|ms|s|m|h))*)\s+ago$`)

var clockTime = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$`)

// parseTime reads a point in time as an assistant is likely to write it:
// RFC 3339, "now", an offset back from now ("-15m", "now-1h", "2h ago"),
// Unix seconds, or a time of day ("14:05") taken on the day of ref (the
// newest data held, so that "what happened at 14:00" works on an imported
// capture from another day). Times of day are UTC.
func parseTime(name, s string, now, ref time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if s == "now" {
		return now, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if m := relTime.FindStringSubmatch(s); m != nil {
		d := m[1] + m[2]
		dur, err := time.ParseDuration(d)
		if err == nil {
			return now.Add(-dur), nil
		}
	}
	if m := clockTime.FindStringSubmatch(s); m != nil {
		if ref.IsZero() {
			ref = now
		}
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		sec := 0
		if m[3] != "" {
			sec, _ = strconv.Atoi(m[3])
		}
		y, mo, d := ref.UTC().Date()
		return time.Date(y, mo, d, h, mi, sec, 0, time.UTC), nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil && n > 1e8 {
		sec := int64(n)
		return time.Unix(sec, int64((n-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%w: %s %q is not a time: use RFC 3339 (2026-11-20T14:00:00Z), \"now\", an offset (\"-15m\", \"2h ago\") or a time of day (\"14:05\", UTC)", ErrBadArgument, name, s)
}

// parseWindow resolves start and end; end before start is an error.
func parseWindow(start, end string, now, ref time.Time) (window, error) {
	var w window
	var err error
	if w.Start, err = parseTime("start", start, now, ref); err != nil {
		return w, err
	}
	if w.End, err = parseTime("end", end, now, ref); err != nil {
		return w, err
	}
	if !w.Start.IsZero() && !w.End.IsZero() && !w.End.After(w.Start) {
		return w, fmt.Errorf("%w: end %s is not after start %s", ErrBadArgument, w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
	}
	return w, nil
}

// clampLimit applies a default and a ceiling to a page size.
func clampLimit(name string, n, def, max int) (int, error) {
	switch {
	case n == 0:
		return def, nil
	case n < 0:
		return 0, fmt.Errorf("%w: %s must be positive, got %d", ErrBadArgument, name, n)
	case n > max:
		return 0, fmt.Errorf("%w: %s must be at most %d, got %d", ErrBadArgument, name, max, n)
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
