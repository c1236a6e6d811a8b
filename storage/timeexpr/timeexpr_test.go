package timeexpr

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	ref := time.Date(2026, 11, 20, 23, 59, 0, 0, time.UTC)
	berlin := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		in   string
		loc  *time.Location
		want time.Time
		kind Kind
	}{
		{"2026-11-20T14:00:00Z", nil, time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC), Absolute},
		{"2026-11-20T14:00:00.5+02:00", nil, time.Date(2026, 11, 20, 12, 0, 0, 5e8, time.UTC), Absolute},
		{"2026-11-20", nil, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), Absolute},
		{"2026-11-20", berlin, time.Date(2026, 11, 19, 23, 0, 0, 0, time.UTC), Absolute},
		{"2026-11-20 14:05", nil, time.Date(2026, 11, 20, 14, 5, 0, 0, time.UTC), Absolute},
		{"now", nil, now, Relative},
		{"15m", nil, now.Add(-15 * time.Minute), Relative},
		{"-15m", nil, now.Add(-15 * time.Minute), Relative},
		{"now-1h", nil, now.Add(-time.Hour), Relative},
		{"now - 1h30m", nil, now.Add(-90 * time.Minute), Relative},
		{"2h ago", nil, now.Add(-2 * time.Hour), Relative},
		{"1d", nil, now.Add(-24 * time.Hour), Relative},
		{"1.5d ago", nil, now.Add(-36 * time.Hour), Relative},
		{"14:05", nil, time.Date(2026, 11, 20, 14, 5, 0, 0, time.UTC), TimeOfDay},
		{"14:00:30", nil, time.Date(2026, 11, 20, 14, 0, 30, 0, time.UTC), TimeOfDay},
		{"14:00:30.25", nil, time.Date(2026, 11, 20, 14, 0, 30, 25e7, time.UTC), TimeOfDay},
		// Ref 23:59 UTC is the 21st in CET: the time of day is placed there.
		{"14:05", berlin, time.Date(2026, 11, 21, 13, 5, 0, 0, time.UTC), TimeOfDay},
		{"1763647200", nil, time.Date(2025, 11, 20, 14, 0, 0, 0, time.UTC), Absolute},
	} {
		p, err := Context{Now: now, Ref: ref, Loc: tc.loc}.Parse(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !p.Time.Equal(tc.want) || p.Kind != tc.kind {
			t.Errorf("%q: got %v kind %d, want %v kind %d", tc.in, p.Time.UTC(), p.Kind, tc.want, tc.kind)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"yesterday", "25:00", "15", "now+1h", "1x", "-", "2026-13-01", "d"} {
		_, err := Context{Now: time.Now()}.Parse(in)
		var te *Error
		if !errors.Is(err, ErrBadTime) || !errors.As(err, &te) || te.Input != in || !strings.Contains(err.Error(), `"2h ago"`) {
			t.Errorf("%q: got %v, want an Error naming it and the accepted forms", in, err)
		}
	}
}

func TestTimeOfDayWithoutRefIsToday(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	p, err := Context{Now: now}.Parse("08:00")
	if err != nil || !p.Time.Equal(time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("%v %v", p, err)
	}
}

func TestWindow(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	ref := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	c := Context{Now: now, Ref: ref}
	w, err := c.Window("--since", "14:00", "--until", "14:15")
	if err != nil || w.Day != time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC) || w.End.Sub(w.Start) != 15*time.Minute {
		t.Fatalf("%+v %v", w, err)
	}
	w, err = c.Window("--since", "1h", "--until", "")
	if err != nil || !w.Day.IsZero() || !w.End.IsZero() {
		t.Fatalf("%+v %v", w, err)
	}
	_, err = c.Window("--since", "14:15", "--until", "14:00")
	if !errors.Is(err, ErrEmptyWindow) || !strings.Contains(err.Error(), "--until 2026-11-20T14:00:00Z is not after --since 2026-11-20T14:15:00Z") {
		t.Fatalf("since after until: %v", err)
	}
	_, err = c.Window("start", "soon", "end", "")
	if !errors.Is(err, ErrBadTime) || !strings.HasPrefix(err.Error(), `start "soon" is not a time`) {
		t.Fatalf("%v", err)
	}
}

func TestDayNote(t *testing.T) {
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	w := Window{Day: day}
	if n := DayNote(Window{}, time.Time{}, time.Time{}); n != "" {
		t.Errorf("no time of day: %q", n)
	}
	one := DayNote(w, day.Add(time.Hour), day.Add(2*time.Hour))
	if !strings.Contains(one, "2026-11-20 (UTC)") || strings.Contains(one, "several days") {
		t.Errorf("one day: %q", one)
	}
	many := DayNote(w, day.Add(-30*time.Hour), day.Add(2*time.Hour))
	if !strings.Contains(many, "several days (2026-11-18 to 2026-11-20)") {
		t.Errorf("several days: %q", many)
	}
	if n := DayNote(w, time.Time{}, time.Time{}); !strings.Contains(n, "no data") {
		t.Errorf("empty store: %q", n)
	}
}
