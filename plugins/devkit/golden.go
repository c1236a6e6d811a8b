package devkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// ErrMismatch is wrapped by Compare when records differ from the golden
// file.
var ErrMismatch = errors.New("records differ from the golden file")

// GoldenFile is where a project keeps its expected records.
const GoldenFile = "testdata/records.golden"

// Line is what a golden file keeps of a record: everything a dissector
// decides, nothing the host or the capture's clock does (times, ids,
// addresses), so that a capture made again gives the same lines.
type Line struct {
	Protocol       string         `json:"protocol"`
	Method         string         `json:"method,omitempty"`
	Path           string         `json:"path,omitempty"`
	Status         int            `json:"status,omitempty"`
	StatusText     string         `json:"status_text,omitempty"`
	Failed         bool           `json:"failed,omitempty"`
	Error          string         `json:"error,omitempty"`
	Summary        string         `json:"summary,omitempty"`
	RequestFields  map[string]any `json:"request_fields,omitempty"`
	ResponseFields map[string]any `json:"response_fields,omitempty"`
}

// LineOf is what a golden file keeps of r.
func LineOf(r *sdk.Record) Line {
	l := Line{Protocol: r.Protocol, Method: r.Method, Path: r.Path, Status: r.Status, StatusText: r.StatusText,
		Failed: r.Failed, Error: r.Error, Summary: r.Summary}
	if r.Request != nil && len(r.Request.Fields) > 0 {
		l.RequestFields = r.Request.Fields
	}
	if r.Response != nil && len(r.Response.Fields) > 0 {
		l.ResponseFields = r.Response.Fields
	}
	return l
}

// Format writes records as golden lines: one JSON object a line.
func Format(recs []*sdk.Record) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		js, err := json.Marshal(LineOf(r))
		if err != nil {
			js = []byte(fmt.Sprintf(`{"error":%q}`, err.Error()))
		}
		b.Write(js)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Compare checks recs against the golden file at path. A difference is an
// error wrapping ErrMismatch that shows the first lines that differ.
func Compare(path string, recs []*sdk.Record) error {
	want, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("golden file %s does not exist: run with --update to write it", path)
		}
		return err
	}
	got := Format(recs)
	if bytes.Equal(normalise(want), got) {
		return nil
	}
	return fmt.Errorf("%w %s:\n%s", ErrMismatch, path, Diff(string(normalise(want)), string(got)))
}

// normalise re-encodes each golden line so that hand edits of spacing or
// key order are not differences.
func normalise(b []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var l Line
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			out.WriteString(line) // a broken line stays a difference
		} else {
			js, _ := json.Marshal(l)
			out.Write(js)
		}
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// Diff shows the lines of want and got that differ, with their line
// numbers, "-" for the golden side and "+" for the records'; at most 20.
func Diff(want, got string) string {
	w, g := strings.Split(strings.TrimSuffix(want, "\n"), "\n"), strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if want == "" {
		w = nil
	}
	if got == "" {
		g = nil
	}
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a == c {
			continue
		}
		shown++
		if i < len(w) {
			fmt.Fprintf(&b, "line %d -%s\n", i+1, a)
		}
		if i < len(g) {
			fmt.Fprintf(&b, "line %d +%s\n", i+1, c)
		}
	}
	fmt.Fprintf(&b, "(%d golden records, %d records now)", len(w), len(g))
	return b.String()
}
