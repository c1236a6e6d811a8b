package analysis

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func TestSearchPayloads(t *testing.T) {
	long := strings.Repeat("a", 100) + "NEEDLE" + strings.Repeat("b", 100)
	rs := recs(
		call{at: sec(1), src: "10.0.0.9", dst: "10.0.0.1:80", path: "/orders?ref=needle", ms: 1,
			reqHeaders: []sdk.Header{{Name: "X-Trace", Value: "Needle-42"}}, respBody: `{"status":"ok"}`},
		call{at: sec(2), src: "10.0.0.9", dst: "10.0.0.1:80", path: "/items", ms: 1, respBody: long},
		call{at: sec(3), src: "10.0.0.9", dst: "10.0.0.1:80", path: "/multi", ms: 1, reqBody: "line one\nneedle\tneedle"},
		call{at: sec(4), src: "10.0.0.9", dst: "10.0.0.1:80", path: "/plain", ms: 1, respBody: "nothing here"},
	)
	bin := call{at: sec(5), src: "10.0.0.9", dst: "10.0.0.1:80", path: "/bin", ms: 1}.rec()
	bin.Response.Body = base64.StdEncoding.EncodeToString([]byte("\x00\x01needle\xff"))
	bin.Response.Encoding = "base64"
	rs = append(rs, bin)
	st := openStore(t, rs)
	ctx := context.Background()

	type hit struct{ path, where, snippet string }
	tests := []struct {
		name  string
		q     SearchQuery
		hits  []hit
		trunc bool
	}{
		{"substring is case-sensitive", SearchQuery{Substring: "NEEDLE"}, []hit{
			{"/items", "response.body", "…" + strings.Repeat("a", 40) + "NEEDLE" + strings.Repeat("b", 40) + "…"}}, false},
		{"case-insensitive everywhere", SearchQuery{Substring: "needle", CaseInsensitive: true}, []hit{
			{"/orders?ref=needle", "path", "/orders?ref=needle"},
			{"/orders?ref=needle", "request.header:X-Trace", "X-Trace: Needle-42"},
			{"/items", "response.body", "…" + strings.Repeat("a", 40) + "NEEDLE" + strings.Repeat("b", 40) + "…"},
			{"/multi", "request.body", `line one\nneedle\tneedle`},
			{"/multi", "request.body", `line one\nneedle\tneedle`},
			{"/bin", "response.body", `\x00\x01needle\xff`},
		}, false},
		{"headers only", SearchQuery{Substring: "needle", CaseInsensitive: true, In: InHeaders}, []hit{
			{"/orders?ref=needle", "request.header:X-Trace", "X-Trace: Needle-42"}}, false},
		{"path only", SearchQuery{Substring: "needle", In: InPath}, []hit{
			{"/orders?ref=needle", "path", "/orders?ref=needle"}}, false},
		{"regex on bodies", SearchQuery{Regex: `"status":"\w+"`, In: InBodies}, []hit{
			{"/orders?ref=needle", "response.body", `{"status":"ok"}`}}, false},
		{"anchored regex", SearchQuery{Regex: `^needle`, In: InBodies}, nil, false},
		{"limit", SearchQuery{Substring: "needle", In: InBodies, Limit: 1}, []hit{
			{"/multi", "request.body", `line one\nneedle\tneedle`},
			{"/multi", "request.body", `line one\nneedle\tneedle`}}, true},
	}
	for _, tt := range tests {
		res, err := SearchPayloads(ctx, st, tt.q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []hit
		for _, h := range res.Hits {
			for _, m := range h.Matches {
				got = append(got, hit{h.Path, m.Where, m.Snippet})
			}
		}
		if !reflect.DeepEqual(got, tt.hits) || res.Truncated != tt.trunc {
			t.Errorf("%s: got %q truncated %v,\nwant %q truncated %v", tt.name, got, res.Truncated, tt.hits, tt.trunc)
		}
	}
	for _, q := range []SearchQuery{{}, {Substring: "a", Regex: "b"}, {Regex: "("}, {Substring: "a", In: "cookies"}} {
		if _, err := SearchPayloads(ctx, st, q); !errors.Is(err, ErrBadQuery) {
			t.Errorf("%+v: err %v, want ErrBadQuery", q, err)
		}
	}
}
