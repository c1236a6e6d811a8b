package fanout

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// Worker is one node's worker as the hub reaches it.
type Worker struct {
	// Node names it in answers: the Kubernetes node name, or the
	// worker's host:port.
	Node string
	// URL is the base URL of its hub ("http://10.0.3.7:8898").
	URL string
	// Unavailable, when set, says why the worker cannot be asked (its pod
	// is pending, or not ready): it is reported as a node that did not
	// answer, with this reason, rather than left out unseen.
	Unavailable string
}

// wrap prefixes an error with where the worker was asked.
func (w Worker) wrap(err error) error {
	if w.URL == "" {
		return err
	}
	return fmt.Errorf("%s: %w", w.URL, err)
}

// Discovery lists the workers to ask. It is called for every fan-out
// call, so a worker that appears or goes away is seen by the next call;
// implementations answer from what they already know (a list, an informer
// cache), never with a round trip per call.
type Discovery interface {
	Workers(ctx context.Context) ([]Worker, error)
}

// Static is a fixed list of workers (`kubeshark hub --workers`).
type Static []Worker

// Workers returns the list.
func (s Static) Workers(context.Context) ([]Worker, error) { return s, nil }

// ParseWorkers reads `--workers` values: base URLs, each optionally named
// as NODE=URL; an unnamed worker is named by its host:port.
func ParseWorkers(specs []string) (Static, error) {
	var out Static
	seen := map[string]bool{}
	for _, spec := range specs {
		for _, item := range strings.Split(spec, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			name, raw, named := strings.Cut(item, "=")
			if !named {
				raw = item
			}
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("worker %q: want http://HOST:PORT or NODE=http://HOST:PORT", item)
			}
			if !named {
				name = u.Host
			}
			if seen[name] {
				return nil, fmt.Errorf("worker %q: node %s is named twice", item, name)
			}
			seen[name] = true
			out = append(out, Worker{Node: name, URL: strings.TrimRight(u.String(), "/")})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no workers given")
	}
	return out, nil
}
