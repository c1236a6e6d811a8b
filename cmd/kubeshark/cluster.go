package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/storage/fanout"
)

// nodeEnv names the node a worker runs on: the chart sets it from the
// pod's spec.nodeName, so that answers name Kubernetes nodes.
const nodeEnv = "KUBESHARK_NODE_NAME"

// nodeName is how this process names itself as a worker.
func nodeName() string {
	if n := os.Getenv(nodeEnv); n != "" {
		return n
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "local"
}

// workerRoutes serves the worker protocol over the server's own store, so
// that a central hub (kubeshark hub --workers) can read it. Every hub and
// tap serves it, behind the same token as the rest of the API.
func workerRoutes(g *globals, s *mcp.Server) (http.Handler, error) {
	return fanout.WorkerHandler(fanout.WorkerOptions{Node: nodeName(), Store: s.AcquireStore, Compile: s.CompileKFL, Logger: g.logger()})
}

// clusterReader reads the workers, with the token read from tokenFile,
// or the hub's own token when there is none (a cluster's hub and workers
// share one).
func clusterReader(g *globals, ws fanout.Static, tokenFile, ownToken string) (*fanout.Cluster, error) {
	tok := ownToken
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--worker-token-file: %w", err)
		}
		if tok = strings.TrimSpace(string(b)); tok == "" {
			return nil, fmt.Errorf("--worker-token-file: %s is empty", tokenFile)
		}
	}
	return fanout.New(fanout.Options{Discovery: ws, Token: tok, Logger: g.logger()})
}
