package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/kube"
	"github.com/kubeshark-wasm/kubeshark/runtime/capture"
	"github.com/kubeshark-wasm/kubeshark/runtime/packetlog"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Retention in the commands: the store's background pass runs once a
// minute, which a short import never reaches, so every command that writes
// applies the limits itself when it finishes (applyRetention) and says what
// went. Limits given on the command line are saved in the store; commands
// given none (a later import, the hub at startup, a live capture) honour
// the saved ones, so the limits are the data directory's, not one run's.

// resolveRetention returns the limits a writing command applies: the
// flags it was given (saved in the store for later commands, a flag set
// to 0 clearing that limit) over the limits saved by an earlier one.
func resolveRetention(ctx context.Context, st *storage.Store, age time.Duration, ageSet bool, size int64, sizeSet bool) (storage.RetentionLimits, error) {
	lim, _, err := st.SavedRetention(ctx)
	if err != nil {
		return lim, err
	}
	if !ageSet && !sizeSet {
		return lim, nil
	}
	if ageSet {
		lim.Age = age
	}
	if sizeSet {
		lim.Bytes = size
	}
	return lim, st.SaveRetention(ctx, lim)
}

// retentionResult is what one retention pass dropped, as import (text and
// -o json) and the hub report it.
type retentionResult struct {
	// Age and Bytes are the limits applied (0: none).
	Age   string `json:"age,omitempty"`
	Bytes int64  `json:"bytes,omitempty"`
	// Cutoff is now minus Age: records older than it were dropped.
	Cutoff  *time.Time `json:"cutoff,omitempty"`
	Dropped struct {
		Records int   `json:"records"`
		Flows   int   `json:"flows"`
		Packets int64 `json:"packets"`
		// Bindings is how many workload-history bindings went: those
		// that ended before the oldest record or flow left.
		Bindings int `json:"bindings,omitempty"`
	} `json:"dropped"`
	// Warning says when what was just imported is itself past the age
	// limit (an old capture imported with a short --retention-age).
	Warning string `json:"warning,omitempty"`
}

// applyRetention enforces lim on the store and, for the age limit, on the
// packet log (nil: none kept), and reports what went. It is what a writing
// command calls when it finishes: import after each file, a live capture
// when it stops; the hub calls it at startup.
func applyRetention(ctx context.Context, st *storage.Store, plog *packetlog.Writer, lim storage.RetentionLimits) (*retentionResult, error) {
	if lim.IsZero() {
		return nil, nil
	}
	rep, err := st.ApplyRetention(ctx, lim)
	res := &retentionResult{Bytes: lim.Bytes}
	res.Dropped.Records, res.Dropped.Flows = rep.Records, rep.Flows
	if lim.Age > 0 {
		res.Age = shortDuration(lim.Age)
		c := rep.Cutoff
		res.Cutoff = &c
		if plog != nil && !c.IsZero() {
			d, perr := plog.DropBefore(c)
			res.Dropped.Packets = d.Packets
			err = errors.Join(err, perr)
		}
	}
	if err == nil {
		res.Dropped.Bindings, err = pruneHistory(ctx, st)
	}
	if err != nil {
		return res, fmt.Errorf("applying retention: %w", err)
	}
	return res, nil
}

// pruneHistory drops the workload-history bindings st holds that ended
// before its oldest record and oldest flow start: none of them can name
// anything stored any more. It loads the history from st rather than use
// a live one, so it works for every command alike (a live history's
// closed bindings are never written again). An empty store keeps its
// history: an old capture imported later still resolves through it.
func pruneHistory(ctx context.Context, st *storage.Store) (int, error) {
	first, _, err := st.Bounds(ctx)
	if err != nil {
		return 0, err
	}
	flowFirst, _, _, err := st.FlowBounds(ctx)
	if err != nil {
		return 0, err
	}
	if first.IsZero() || (!flowFirst.IsZero() && flowFirst.Before(first)) {
		first = flowFirst
	}
	if first.IsZero() {
		return 0, nil
	}
	h, err := kube.LoadHistory(ctx, st, nil)
	if err != nil {
		return 0, err
	}
	return h.Prune(ctx, first)
}

// warnPastAge fills res.Warning when packets of the span just imported are
// older than the age limit: retention measures age from now, by the wall
// clock, so an old capture imported with a short limit is dropped as soon
// as it is stored, which is easy to miss.
func (res *retentionResult) warnPastAge(file string, span timeSpan) {
	if res == nil || res.Cutoff == nil || span.n == 0 || !span.first.Before(*res.Cutoff) {
		return
	}
	const layout = "2006-01-02 15:04:05"
	what := "every packet"
	if !span.last.Before(*res.Cutoff) {
		what = "part"
	}
	res.Warning = fmt.Sprintf("%s of %s (captured %s to %s UTC) is older than the %s age limit, which counts from now (cutoff %s UTC), so it was dropped right after it was imported; import with a longer --retention-age, or --retention-age 0 to keep it",
		what, file, span.first.UTC().Format(layout), span.last.UTC().Format(layout), res.Age, res.Cutoff.UTC().Format(layout))
}

// printRetention writes the human form of res.
func printRetention(w io.Writer, res *retentionResult) {
	if res == nil {
		return
	}
	var lims []string
	if res.Age != "" {
		lims = append(lims, "age "+res.Age+", counted from now")
	}
	if res.Bytes > 0 {
		lims = append(lims, "size "+humanBytes(res.Bytes))
	}
	d := res.Dropped
	switch {
	case d.Records == 0 && d.Flows == 0 && d.Packets == 0 && d.Bindings == 0:
		fmt.Fprintf(w, "  retention (%s): nothing dropped\n", strings.Join(lims, ", "))
	case d.Bindings == 0:
		fmt.Fprintf(w, "  retention (%s): dropped %d records, %d flows, %d packets\n", strings.Join(lims, ", "), d.Records, d.Flows, d.Packets)
	default:
		fmt.Fprintf(w, "  retention (%s): dropped %d records, %d flows, %d packets and %d workload bindings\n", strings.Join(lims, ", "), d.Records, d.Flows, d.Packets, d.Bindings)
	}
	if res.Warning != "" {
		fmt.Fprintf(w, "  warning: %s\n", res.Warning)
	}
}

// shortDuration prints 1h rather than 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// timeSpan is the time range of the packets read from a source.
type timeSpan struct {
	first, last time.Time
	n           int64
}

// spanSource records the time span of the packets it passes on.
type spanSource struct {
	capture.Source
	span timeSpan
}

func (s *spanSource) Next(ctx context.Context) (capture.Packet, error) {
	p, err := s.Source.Next(ctx)
	if err == nil {
		if s.span.n == 0 || p.Timestamp.Before(s.span.first) {
			s.span.first = p.Timestamp
		}
		if s.span.n == 0 || p.Timestamp.After(s.span.last) {
			s.span.last = p.Timestamp
		}
		s.span.n++
	}
	return p, err
}

// applySavedRetention applies the limits saved in the store (by an import
// given --retention-age or --retention-size) once, for a long-running
// command starting on it (the hub): data that aged past the limit while
// nothing wrote goes before it is served. It says on w what it dropped.
// A store another process holds (an import, which applies the limits when
// it finishes) or that does not exist yet is left alone.
func applySavedRetention(ctx context.Context, g *globals, w io.Writer) error {
	opts := storeOptions(g, storage.Options{})
	if _, err := os.Stat(opts.Dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	st, err := storage.OpenWhenFree(ctx, opts, 2*time.Second, nil)
	if errors.Is(err, storage.ErrBusy) {
		fmt.Fprintln(w, "retention: the store is busy (an import?); its saved limits are applied when that import finishes")
		return nil
	}
	if err != nil {
		return err
	}
	defer st.Close()
	lim, _, err := st.SavedRetention(ctx)
	if err != nil || lim.IsZero() {
		return err
	}
	// The store's lock keeps imports out, so this is the log's only
	// writer; it must not evict by size, which is the importer's cap.
	var plog *packetlog.Writer
	dir := filepath.Join(g.dataDir, "packets")
	if _, err := os.Stat(dir); lim.Age > 0 && err == nil {
		plog, err = packetlog.Open(ctx, dir, packetlog.Options{MaxBytes: math.MaxInt64, Logger: g.logger()})
		if err != nil {
			return err
		}
		defer plog.Close()
	}
	res, err := applyRetention(ctx, st, plog, lim)
	if res != nil {
		fmt.Fprintln(w, "limits saved by an earlier import, applied at startup:")
		printRetention(w, res)
	}
	return err
}
