package fanout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// NodeAnswer is one node's answer to a Broadcast.
type NodeAnswer struct {
	Node string `json:"node"`
	// Status is the worker's HTTP status; 0 when it did not answer.
	Status int `json:"status,omitempty"`
	// Body is its answer when Status is 2xx.
	Body json.RawMessage `json:"answer,omitempty"`
	// Error is why it did not take the request: the worker's own error
	// message, or why it could not be reached.
	Error string `json:"error,omitempty"`
}

// OK says whether the node took the request.
func (a NodeAnswer) OK() bool { return a.Status/100 == 2 }

// Broadcast sends one request (body encoded as JSON) to every worker at
// once, with the workers' token, and returns each node's answer in the
// discovery's order. It is for the hub's own routes that change a node
// (plugin install, enable, disable, remove), whose per-node outcome the
// caller reports; only a failure to discover workers is an error.
func (c *Cluster) Broadcast(ctx context.Context, method, path string, body any) ([]NodeAnswer, error) {
	ws, err := c.workers(ctx)
	if err != nil {
		return nil, err
	}
	var payload []byte
	if body != nil {
		if payload, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	out := make([]NodeAnswer, len(ws))
	c.each(ctx, ws, func(ctx context.Context, i int, w Worker) error {
		out[i] = c.send(ctx, w, method, path, payload, body != nil)
		if !out[i].OK() {
			c.opts.Logger.Warn("fanout: node did not take "+method+" "+path, "node", w.Node, "err", out[i].Error)
		}
		return nil
	})
	return out, nil
}

func (c *Cluster) send(ctx context.Context, w Worker, method, path string, payload []byte, hasBody bool) NodeAnswer {
	a := NodeAnswer{Node: w.Node}
	if w.Unavailable != "" {
		a.Error = w.Unavailable
		return a
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.NodeTimeout)
	defer cancel()
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.URL+path, rd)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	if c.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		a.Error = w.wrap(err).Error()
		return a
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	a.Status = resp.StatusCode
	if err != nil {
		a.Status, a.Error = 0, w.wrap(err).Error()
		return a
	}
	if a.OK() {
		a.Body = b
		return a
	}
	var e errorResponse
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(b))
	}
	a.Error = e.Error
	return a
}
