package timeexpr

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrBadTime is wrapped by every error about an expression that is not a
// time.
var ErrBadTime = errors.New("bad time")

// ErrEmptyWindow is wrapped by the error about a window whose end is not
// after its start.
var ErrEmptyWindow = errors.New("the window is empty")

// Kind says how an expression named its time.
type Kind int

const (
	// Absolute is a date, a date and time, or Unix seconds.
	Absolute Kind = iota
	// Relative is "now" or an offset back from now.
	Relative
	// TimeOfDay is a clock time placed on the reference day.
	TimeOfDay
)

// Context is what an expression is resolved against.
type Context struct {
	// Now is the present, for "now" and offsets.
	Now time.Time
	// Ref is the day times of day are placed on (the newest data held,
	// so that "14:00" works on yesterday's capture); zero means Now.
	Ref time.Time
	// Loc is the zone of times written without one (times of day, dates,
	// "2026-11-20 14:05"); nil means UTC.
	Loc *time.Location
}

func (c Context) loc() *time.Location {
	if c.Loc == nil {
		return time.UTC
	}
	return c.Loc
}

// Point is one resolved expression.
type Point struct {
	Time time.Time
	Kind Kind
}

var (
	// clockRE matches 14:05, 14:05:30 and 14:05:30.250.
	clockRE = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9])(\.[0-9]{1,9})?)?$`)
	// durationRE is one or more number+unit terms: 15m, 1h30m, 1.5d.
	durationRE = regexp.MustCompile(`^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h|d))+$`)
	termRE     = regexp.MustCompile(`([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h|d)`)
)

// layouts are the absolute forms, tried in order; those without a zone are
// read in Context.Loc.
var layouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

// IsTimeOfDay reports whether s is a time of day, which needs a reference
// day: callers look one up only when this holds.
func IsTimeOfDay(s string) bool { return clockRE.MatchString(strings.TrimSpace(s)) }

// Parse resolves one expression. The empty string is the zero Point (an
// open side of a window).
func (c Context) Parse(s string) (Point, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Point{}, nil
	}
	if strings.EqualFold(s, "now") {
		return Point{c.Now, Relative}, nil
	}
	for i, layout := range layouts {
		var t time.Time
		var err error
		if i == 0 {
			t, err = time.Parse(layout, s)
		} else {
			t, err = time.ParseInLocation(layout, s, c.loc())
		}
		if err == nil {
			return Point{t, Absolute}, nil
		}
	}
	if d, ok := offset(s); ok {
		return Point{c.Now.Add(-d), Relative}, nil
	}
	if m := clockRE.FindStringSubmatch(s); m != nil {
		ref := c.Ref
		if ref.IsZero() {
			ref = c.Now
		}
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		sec, ns := 0, 0
		if m[3] != "" {
			sec, _ = strconv.Atoi(m[3])
		}
		if m[4] != "" {
			frac := (m[4][1:] + "000000000")[:9]
			ns, _ = strconv.Atoi(frac)
		}
		y, mo, d := ref.In(c.loc()).Date()
		return Point{time.Date(y, mo, d, h, mi, sec, ns, c.loc()), TimeOfDay}, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil && n > 1e8 {
		sec := int64(n)
		return Point{time.Unix(sec, int64((n-float64(sec))*1e9)), Absolute}, nil
	}
	return Point{}, &Error{Input: s, zone: c.loc().String()}
}

// offset reads a span back from now: "15m", "-15m", "now-15m", "now - 1d",
// "2h ago".
func offset(s string) (time.Duration, bool) {
	switch {
	case strings.HasSuffix(s, " ago"):
		s = strings.TrimSpace(strings.TrimSuffix(s, " ago"))
	case strings.HasPrefix(s, "now"):
		rest := strings.TrimSpace(strings.TrimPrefix(s, "now"))
		if !strings.HasPrefix(rest, "-") {
			return 0, false
		}
		s = strings.TrimSpace(rest[1:])
	case strings.HasPrefix(s, "-"):
		s = strings.TrimSpace(s[1:])
	}
	return ParseDuration(s)
}

// ParseDuration reads a non-negative span written as number+unit terms,
// with Go's units (ns, us, µs, ms, s, m, h) and d for 24 hours: "15m",
// "1h30m", "1d", "1.5d".
func ParseDuration(s string) (time.Duration, bool) {
	if !durationRE.MatchString(s) {
		return 0, false
	}
	var total float64
	for _, m := range termRE.FindAllStringSubmatch(s, -1) {
		n, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return 0, false
		}
		unit := map[string]time.Duration{"ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond,
			"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
		total += n * float64(unit)
	}
	if total > float64(1<<63-1) {
		return 0, false
	}
	return time.Duration(total), true
}

// Error is an expression that is not a time.
type Error struct {
	Input string
	zone  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q is not a time: use RFC 3339 (2026-11-20T14:00:00Z), a date (2026-11-20), \"now\", an offset back from now (\"15m\", \"-15m\", \"2h ago\", \"1d\") or a time of day (\"14:05\", %s)", e.Input, e.zone)
}

// Unwrap makes errors.Is(err, ErrBadTime) hold.
func (e *Error) Unwrap() error { return ErrBadTime }

// Window is a resolved time range; a zero side is open.
type Window struct {
	Start, End time.Time
	// Day is midnight (in Context.Loc) of the day a time of day was placed
	// on, zero when neither side was written as one.
	Day time.Time
}

// Window resolves the two sides of a range, naming them in errors as the
// caller's interface does (start/end, --since/--until). An end that is not
// after the start is an error.
func (c Context) Window(startName, start, endName, end string) (Window, error) {
	var w Window
	s, err := c.Parse(start)
	if err != nil {
		return w, fmt.Errorf("%s %w", startName, err)
	}
	e, err := c.Parse(end)
	if err != nil {
		return w, fmt.Errorf("%s %w", endName, err)
	}
	w.Start, w.End = s.Time, e.Time
	for _, p := range []Point{s, e} {
		if p.Kind == TimeOfDay {
			y, mo, d := p.Time.Date()
			w.Day = time.Date(y, mo, d, 0, 0, 0, 0, p.Time.Location())
		}
	}
	if !w.Start.IsZero() && !w.End.IsZero() && !w.End.After(w.Start) {
		return w, fmt.Errorf("%s %s is not after %s %s: %w", endName, w.End.Format(time.RFC3339Nano), startName, w.Start.Format(time.RFC3339Nano), ErrEmptyWindow)
	}
	return w, nil
}

// DayNote says which day times of day were placed on, and warns when the
// data held (first to last) spans more than that day, so that a reader of
// "14:00" on a store of several captures knows which 14:00 was meant. It is
// empty when no time of day was used.
func DayNote(w Window, first, last time.Time) string {
	if w.Day.IsZero() {
		return ""
	}
	loc := w.Day.Location()
	day := w.Day.Format("2006-01-02")
	why := "the day of the newest data"
	if last.IsZero() {
		why = "today: no data is held"
	}
	note := fmt.Sprintf("times of day were taken on %s (%s), %s", day, zoneName(w.Day), why)
	if !first.IsZero() && !last.IsZero() {
		fd, ld := first.In(loc).Format("2006-01-02"), last.In(loc).Format("2006-01-02")
		if fd != ld {
			note += fmt.Sprintf("; the data spans several days (%s to %s): give a date (%sT14:00:00Z) to mean another", fd, ld, fd)
		}
	}
	return note
}

// zoneName names the zone of t as a reader knows it: UTC, or its
// abbreviation and offset (CET +01:00) rather than Go's "Local".
func zoneName(t time.Time) string {
	if t.Location() == time.UTC {
		return "UTC"
	}
	return t.Format("MST -07:00")
}
