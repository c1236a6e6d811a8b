package main

import (
	"encoding/json"
	"io"
)

// newJSONEncoder is how every command writes JSON: without Go's HTML
// escaping (which turns & < > into \u0026 and friends, unlike the MCP
// server and every other tool a reader pipes the output into), indented
// for a document and compact for JSON lines.
func newJSONEncoder(w io.Writer, indent bool) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc
}
