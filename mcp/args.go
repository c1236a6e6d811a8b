package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
