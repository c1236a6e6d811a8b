package mcp

import (
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
// runs it. run returns the structured result and a short text an LLM can
// read when it ignores structured content.
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
	destructive       bool
}

func newTool[A any, R any](spec toolSpec, run func(ctx context.Context, args A) (R, string, error)) tool {
	in, err := schemaOf[A]()
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
	readOnly := !spec.destructive
	def := mcpgo.Tool{
		Name:            spec.name,
		Title:           spec.title,
		Description:     spec.desc,
		RawInputSchema:  in,
		RawOutputSchema: out,
		Annotations: mcpgo.ToolAnnotation{
			Title:           spec.title,
			ReadOnlyHint:    &readOnly,
			DestructiveHint: &spec.destructive,
			OpenWorldHint:   new(bool),
		},
	}
	return tool{def: def, destructive: spec.destructive, run: func(ctx context.Context, raw json.RawMessage) (any, string, error) {
		var a A
		if err := decodeArgs(raw, &a); err != nil {
			return nil, "", err
		}
		return run(ctx, a)
	}}
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
	return json.Marshal(m)
}

// jsonFields lists the JSON argument names of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
