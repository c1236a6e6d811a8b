package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Reading commands pointed at a data directory that a running tap holds go
// through its hub: the store allows one process, and tap keeps it for as
// long as it captures.

// hubTool runs one tool on the hub at url and decodes its answer into out.
func hubTool(ctx context.Context, dataDir, url, tool string, args, out any) error {
	tok, err := hub.LoadToken(dataDir)
	if err != nil {
		return fmt.Errorf("a tap is capturing into %s, but its hub token is unreadable: %w", dataDir, err)
	}
	body, err := json.Marshal(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/tools/"+tool, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("asking the running tap's hub (%s): %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("reading the running tap's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("the running tap's hub answered %s", resp.Status)
	}
	return json.Unmarshal(b, out)
}

// callsViaTap lists calls from a running tap's hub, page by page.
func callsViaTap(ctx context.Context, g *globals, url string, o *callsOpts, w io.Writer) error {
	args := map[string]any{"order": "oldest", "format": "full"}
	if o.newest {
		args["order"] = "newest"
	}
	if o.filter != "" {
		args["kfl"] = o.filter
	}
	// The hub reads the same time expressions (storage/timeexpr), so they
	// pass through as typed; a time of day is placed on the day of the
	// newest data there, as here.
	if o.since != "" {
		args["start"] = o.since
	}
	if o.until != "" {
		args["end"] = o.until
	}
	var calls []mcp.Call
	more := false
	for {
		page := 1000
		if o.limit > 0 {
			page = min(page, o.limit-len(calls))
		}
		args["limit"] = page
		var res mcp.ListCallsResult
		if err := hubTool(ctx, g.dataDir, url, "list_api_calls", args, &res); err != nil {
			return err
		}
		calls = append(calls, res.Calls...)
		if res.NextCursor == "" {
			break
		}
		if o.limit > 0 && len(calls) >= o.limit {
			more = true
			break
		}
		args["cursor"] = res.NextCursor
	}
	switch o.output {
	case "json":
		if calls == nil {
			calls = []mcp.Call{}
		}
		return writeJSON(w, calls, true)
	case "jsonl":
		for _, c := range calls {
			if err := writeJSON(w, c, false); err != nil {
				return err
			}
		}
		return nil
	}
	recs := make([]*sdk.Record, len(calls))
	tmpls := make([]string, len(calls))
	for i, c := range calls {
		tmpls[i] = c.Template
		r := &sdk.Record{ID: c.ID, Protocol: c.Protocol, Timestamp: c.Timestamp, ElapsedMs: c.ElapsedMs,
			Src: c.Src, Dst: c.Dst, Method: c.Method, Path: c.Path, Status: c.Status, Failed: c.Failed}
		if c.Response != nil {
			r.Response = &sdk.Message{}
		}
		recs[i] = r
	}
	loc := time.UTC
	if o.local {
		loc = time.Local
	}
	printTable(w, recs, tmpls, loc)
	if more {
		fmt.Fprintf(w, "(first %d shown; --limit 0 shows all)\n", o.limit)
	}
	return nil
}

// callViaTap shows one call from a running tap's hub.
func callViaTap(ctx context.Context, g *globals, url, id string, w io.Writer) error {
	var res mcp.GetCallResult
	if err := hubTool(ctx, g.dataDir, url, "get_api_call", map[string]any{"id": id}, &res); err != nil {
		return err
	}
	return writeJSON(w, res.Call, true)
}
