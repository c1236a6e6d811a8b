package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

// tool is one MCP tool: its advertised definition and the function that
// runs it. run returns the structured result and a one-line summary; Call
// turns the summary into the text content by appending the result as JSON,
// so that clients that read only the text see the same data.
type tool struct {
	def         mcpgo.Tool
	destructive bool
	run         func(ctx context.Context, raw json.RawMessage) (any, string, error)
}

// toolSpec is how tools are declared; newTool derives both JSON schemas
// from the argument and result types, so what is advertised is what the
// code accepts and returns.
type toolSpec struct {
	name, title, desc string
	// destructive tools change or remove state and need
	// Options.AllowDestructive.
	destructive bool
	// writes marks a tool that adds state (a snapshot, a file, a job)
	// without changing what is there: not read-only, not destructive.
	writes bool
	// idempotent marks a writing or destructive tool that has no further
	// effect when called again with the same arguments.
	idempotent bool
	// unavailable, when set, is the error every call answers with,
	// whatever its arguments: a tool listed so that an assistant following
	// another product's instructions learns it is not there.
	unavailable error
}

// annotations are the MCP tool annotations of a spec. Every hint is set
// explicitly, since the specification's defaults (not read-only,
// destructive, open world) are the opposite of most of these tools.
func (spec toolSpec) annotations() mcpgo.ToolAnnotation {
	readOnly := !spec.destructive && !spec.writes
	destructive := spec.destructive
	idempotent := readOnly || spec.idempotent
	// The tools read and write the local store only; nothing reaches
	// outside it.
	openWorld := false
	return mcpgo.ToolAnnotation{
		Title:           spec.title,
		ReadOnlyHint:    &readOnly,
		DestructiveHint: &destructive,
		IdempotentHint:  &idempotent,
		OpenWorldHint:   &openWorld,
	}
}

func newTool[A any, R any](spec toolSpec, run func(ctx context.Context, args A) (R, string, error)) tool {
	in, err := inputSchemaOf[A]()
	if err != nil {
		panic(fmt.Sprintf("mcp: input schema of %s: %v", spec.name, err))
	}
	out, err := schemaOf[R]()
	if err == nil {
		out, err = withResolvedTimes(out)
	}
	if err != nil {
		panic(fmt.Sprintf("mcp: output schema of %s: %v", spec.name, err))
	}
	def := mcpgo.Tool{
		Name:            spec.name,
		Title:           spec.title,
		Description:     spec.desc,
		RawInputSchema:  in,
		RawOutputSchema: out,
		Annotations:     spec.annotations(),
	}
	return tool{def: def, destructive: spec.destructive, run: func(ctx context.Context, raw json.RawMessage) (any, string, error) {
		if spec.unavailable != nil {
			return nil, "", spec.unavailable
		}
		var a A
		if err := decodeArgs(raw, &a); err != nil {
			return nil, "", err
		}
		return run(ctx, a)
	}}
}

// inputSchemaOf is schemaOf without "additionalProperties": false, so
// that a client that validates arguments before sending them lets known
// aliases (snapshot_id, service, ...) through, and an unknown name reaches
// the server, whose answer suggests the right one.
func inputSchemaOf[T any]() (json.RawMessage, error) {
	b, err := schemaOf[T]()
	if err != nil {
		return nil, err
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	s.AdditionalProperties = nil
	return json.Marshal(&s)
}

// schemaOf returns the JSON schema of T as MCP wants it: an object schema,
// with times as strings.
func schemaOf[T any]() (json.RawMessage, error) {
	s, err := jsonschema.For[T](&jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
		reflect.TypeFor[time.Time]():     {Type: "string", Format: "date-time"},
		reflect.TypeFor[time.Duration](): {Type: "integer"},
		reflect.TypeFor[any]():           {},
	}})
	if err != nil {
		return nil, err
	}
	s.Type = "object"
	return json.Marshal(s)
}

// withResolvedTimes adds the optional resolved_times property, which any
// tool's answer carries when a time of day was placed on a date (times.go).
func withResolvedTimes(schema json.RawMessage) (json.RawMessage, error) {
	rt, err := schemaOf[TimeResolution]()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(schema, &m); err != nil {
		return nil, err
	}
	props, _ := m["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		m["properties"] = props
	}
	props["resolved_times"] = json.RawMessage(rt)
	ws, err := schemaOf[WorkerStatus]()
	if err != nil {
		return nil, err
	}
	// A hub that fans out to the nodes of a cluster says how each took
	// part, and which did not answer (attachWorkers).
	props["workers"] = map[string]any{"type": "array", "items": json.RawMessage(ws),
		"description": "on a hub that reads a cluster: each node, whether it answered, and how many of the listed items it gave"}
	props["partial"] = map[string]any{"type": "string", "description": "set when some nodes did not answer: which, and how many the results are from"}
	return json.Marshal(m)
}

// jsonFields lists the JSON argument names of the struct v points to,
// including those of embedded structs.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if t.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case f.Anonymous && name == "":
				walk(f.Type)
			case name != "" && name != "-":
				out = append(out, name)
			}
		}
	}
	walk(t)
	sort.Strings(out)
	return out
}

// marshalCompact encodes v as compact JSON without HTML escaping, so that
// "<", ">" and "&" in paths and bodies read as they were sent.
func marshalCompact(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// fitResult makes the JSON of res fit in max bytes by cutting its longest
// top-level lists from the end (they are ordered most relevant first),
// setting its "truncated" field when it has one. It returns the result, its
// JSON and whether it cut anything. A tool that pages (list_api_calls,
// list_l4_flows) fits its page itself, with a cursor, before this runs.
func fitResult(res any, max int) (any, []byte, bool, error) {
	b, err := marshalCompact(res)
	if err != nil || len(b) <= max {
		return res, b, false, err
	}
	v := reflect.ValueOf(res)
	ptr := v.Kind() == reflect.Pointer
	if ptr {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return res, b, false, nil
	}
	cp := reflect.New(v.Type()).Elem()
	cp.Set(v)
	out := func() any {
		if ptr {
			return cp.Addr().Interface()
		}
		return cp.Interface()
	}
	cut := false
	for len(b) > max {
		// The list whose JSON is longest loses elements in proportion to
		// the excess.
		best, bestLen := -1, 0
		for i := 0; i < cp.NumField(); i++ {
			f := cp.Field(i)
			if f.Kind() != reflect.Slice || f.Len() == 0 || !cp.Type().Field(i).IsExported() {
				continue
			}
			fb, _ := json.Marshal(f.Interface())
			if len(fb) > bestLen {
				best, bestLen = i, len(fb)
			}
		}
		if best < 0 {
			break
		}
		f := cp.Field(best)
		excess := len(b) - max
		per := bestLen / f.Len()
		drop := excess/max1(per) + 1
		n := f.Len() - drop
		if n < 0 {
			n = 0
		}
		f.Set(f.Slice(0, n))
		cut = true
		if t := cp.FieldByName("Truncated"); t.IsValid() && t.Kind() == reflect.Bool && t.CanSet() {
			t.SetBool(true)
		}
		if b, err = marshalCompact(out()); err != nil {
			return res, nil, false, err
		}
	}
	return out(), b, cut, nil
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// renderText is a tool result's text content: one summary line, then the
// result as JSON (the same value as structuredContent). The summary
// repeats the truncation and cursor hints the JSON holds, so that a model
// skimming the first line knows the answer is partial and how to go on.
func renderText(summary string, data []byte, cut bool, max int) string {
	line, _, _ := strings.Cut(strings.TrimSpace(summary), "\n")
	line = strings.TrimSuffix(strings.TrimSpace(line), ":")
	var hints struct {
		Truncated  bool   `json:"truncated"`
		NextCursor string `json:"next_cursor"`
	}
	_ = json.Unmarshal(data, &hints) // a result that is not an object has no hints
	switch {
	case cut:
		line += fmt.Sprintf(" (truncated to fit the %d KiB answer limit: narrow the window, filter or limit)", max>>10)
	case hints.NextCursor != "" && !strings.Contains(line, hints.NextCursor):
		line += " (more: pass cursor=" + hints.NextCursor + ")"
	case hints.Truncated && !strings.Contains(line, "more") && !strings.Contains(line, "truncated"):
		line += " (truncated: more matched than listed)"
	}
	return line + "\n" + string(data)
}
