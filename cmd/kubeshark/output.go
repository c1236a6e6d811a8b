package main

import (
	"bytes"
	"encoding/json"
	"io"
)

// writeJSON is how every command writes JSON: one value, indented as a
// document or compact as a JSON line, and without Go's HTML escaping,
// which turns & < > into \u0026 \u003c \u003e, unlike the MCP server and
// the tools a reader pipes the output into (jq, a browser). The encoder's
// SetEscapeHTML(false) is not enough: records marshal themselves with
// json.Marshal, which escapes, so the escapes are undone on the result.
func writeJSON(w io.Writer, v any, indent bool) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(unescapeHTML(buf.Bytes()))
	return err
}

// unescapeHTML rewrites the \u0026, \u003c and \u003e escapes of a JSON
// text as the characters they stand for. An escaped backslash followed by
// "u0026" (the string `\u0026` itself) is left alone.
func unescapeHTML(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u00`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+5 < len(b) {
			switch string(b[i+2 : i+6]) {
			case "0026":
				out = append(out, '&')
				i += 5
				continue
			case "003c":
				out = append(out, '<')
				i += 5
				continue
			case "003e":
				out = append(out, '>')
				i += 5
				continue
			}
		}
		// Any other escape, \\ included, is copied whole.
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}
