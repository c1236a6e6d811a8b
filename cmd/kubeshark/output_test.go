package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func TestWriteJSONKeepsHTMLCharacters(t *testing.T) {
	rec := sdk.Record{ID: "x", Path: `/a?b=1&c=<2>`, Summary: `literal \u0026 stays`}
	for _, indent := range []bool{true, false} {
		var buf bytes.Buffer
		if err := writeJSON(&buf, []sdk.Record{rec}, indent); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !bytes.Contains(buf.Bytes(), []byte(`"/a?b=1&c=<2>"`)) || bytes.Contains(buf.Bytes(), []byte(`\u003c`)) {
			t.Errorf("HTML characters escaped:\n%s", out)
		}
		var back []sdk.Record
		if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back[0].Path != rec.Path || back[0].Summary != rec.Summary {
			t.Errorf("does not round-trip: %v %+v\n%s", err, back, out)
		}
	}
}
