package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage/timeexpr"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
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
// An empty answer says where the data is, as without a tap.
func callsViaTap(ctx context.Context, g *globals, url string, o *callsOpts, win timeexpr.Window, w, stderr io.Writer) error {
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
			if strings.HasPrefix(err.Error(), "kfl:") {
				return filterErr(err) // the hub compiled it: said as here
			}
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
	var loc *time.Location // UTC, as printTable and formatTime take it
	if o.local {
		loc = time.Local
	}
	if len(calls) == 0 {
		msg, err := noMatchViaTap(ctx, g, url, o, win, loc)
		if err != nil {
			return err
		}
		if done, err := sayNoMatch(o, w, stderr, msg); done {
			return err
		}
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
	printTable(w, recs, tmpls, loc)
	if more {
		fmt.Fprintf(w, "(first %d shown; --limit 0 shows all)\n", o.limit)
	}
	return nil
}

// noMatchViaTap is noMatch for a store a running tap holds: its hub says
// how many calls there are and when.
func noMatchViaTap(ctx context.Context, g *globals, url string, o *callsOpts, win timeexpr.Window, loc *time.Location) (string, error) {
	var b mcp.BoundariesResult
	if err := hubTool(ctx, g.dataDir, url, "get_data_boundaries", map[string]any{}, &b); err != nil {
		return "", err
	}
	if b.Records.Count == 0 || b.Records.Oldest == nil || b.Records.Newest == nil {
		return fmt.Sprintf("no calls match: the tap capturing into %s has stored none yet", g.dataDir), nil
	}
	return noMatchText(o, win, loc, int(b.Records.Count), *b.Records.Oldest, *b.Records.Newest), nil
}

// callViaTap shows one call from a running tap's hub.
func callViaTap(ctx context.Context, g *globals, url, id string, w io.Writer) error {
	var res mcp.GetCallResult
	if err := hubTool(ctx, g.dataDir, url, "get_api_call", map[string]any{"id": id}, &res); err != nil {
		return err
	}
	return writeJSON(w, res.Call, true)
}

// filterReferenceViaTap reads the KFL reference (the kubeshark://kfl
// resource) from a running tap's hub over MCP: the tap's filter language
// knows every field of the store it holds, a removed plugin's included.
func filterReferenceViaTap(ctx context.Context, g *globals, url string) (string, error) {
	tok, err := hub.LoadToken(g.dataDir)
	if err != nil {
		return "", fmt.Errorf("a tap is capturing into %s, but its hub token is unreadable: %w", g.dataDir, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	contents, err := mcp.ReadHubResource(ctx, mcp.RemoteOptions{URL: url, Token: tok, Version: version}, "kubeshark://kfl")
	if err != nil {
		return "", fmt.Errorf("reading kubeshark://kfl from the running tap's hub: %w", err)
	}
	var b strings.Builder
	for _, rc := range contents {
		if t, ok := rc.(mcpgo.TextResourceContents); ok {
			b.WriteString(t.Text)
		}
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("the running tap's hub (%s) sent an empty kubeshark://kfl", url)
	}
	return b.String(), nil
}
