package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kubeshark-wasm/kubeshark/storage/timeexpr"
)

// TimeResolution tells a reader of an answer how the times of day in its
// arguments were placed: a time of day names no date, so one was chosen
// (the day of the newest data). Tools add it to their structured result as
// resolved_times, and a note to their text, whenever they used one.
type TimeResolution struct {
	// Day is the date (UTC) the times of day were placed on.
	Day string `json:"day"`
	// Times are the arguments written as times of day, as resolved.
	Times []ResolvedTime `json:"times"`
	// SeveralDays is true when the data held spans more than that day, so
	// the same time of day names other moments too.
	SeveralDays bool `json:"store_spans_several_days"`
	// Note says the above in a sentence.
	Note string `json:"note"`
}

// ResolvedTime is one argument written as a time of day.
type ResolvedTime struct {
	Input string    `json:"input"`
	Time  time.Time `json:"time"`
}

// resolutions collects a call's TimeResolution while its tool runs.
type resolutions struct {
	mu sync.Mutex
	r  *TimeResolution
}

type resolutionsKey struct{}

func withResolutions(ctx context.Context) (context.Context, *resolutions) {
	r := &resolutions{}
	return context.WithValue(ctx, resolutionsKey{}, r), r
}

func (rs *resolutions) add(day string, severalDays bool, note string, times []ResolvedTime) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.r == nil {
		rs.r = &TimeResolution{Day: day, SeveralDays: severalDays, Note: note}
	}
	rs.r.Times = append(rs.r.Times, times...)
}

// note is the sentence saying which day a time of day was placed on, or
// "" when the call used none.
func (rs *resolutions) note() string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.r == nil {
		return ""
	}
	return rs.r.Note
}

// attach adds what was collected to a tool's answer: resolved_times in the
// structured result (advertised in every tool's output schema) and the
// note at the end of the text.
func (rs *resolutions) attach(res any, text string) (any, string, error) {
	if rs.r == nil {
		return res, text, nil
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, "", err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		// Not an object: the text still carries the note.
		return res, strings.TrimRight(text, "\n") + "\nnote: " + rs.r.Note, nil
	}
	m["resolved_times"] = rs.r
	return m, strings.TrimRight(text, "\n") + "\nnote: " + rs.r.Note, nil
}

// window resolves a tool's start and end. A time of day is placed on the
// day of the newest data, and the call's answer says so.
func (s *Server) window(ctx context.Context, start, end string) (window, error) {
	c := timeexpr.Context{Now: s.opts.Now().UTC()}
	var first, last time.Time
	if timeexpr.IsTimeOfDay(start) || timeexpr.IsTimeOfDay(end) {
		if st := s.live(ctx); st != nil {
			first, last, _ = st.Bounds(ctx)
		}
		c.Ref = last
	}
	w, err := c.Window("start", start, "end", end)
	if err != nil {
		return window{}, fmt.Errorf("%w: %w", ErrBadArgument, err)
	}
	if !w.Day.IsZero() {
		var times []ResolvedTime
		for _, side := range []struct {
			in string
			t  time.Time
		}{{start, w.Start}, {end, w.End}} {
			if timeexpr.IsTimeOfDay(side.in) {
				times = append(times, ResolvedTime{Input: strings.TrimSpace(side.in), Time: side.t})
			}
		}
		day := w.Day.Format("2006-01-02")
		several := !first.IsZero() && first.UTC().Format("2006-01-02") != last.UTC().Format("2006-01-02")
		if rs, ok := ctx.Value(resolutionsKey{}).(*resolutions); ok {
			rs.add(day, several, timeexpr.DayNote(w, first, last), times)
		}
	}
	return window{Start: w.Start, End: w.End}, nil
}
