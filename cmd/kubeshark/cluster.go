package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeshark-wasm/kubeshark/kube/discovery"
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

// clusterReader reads the workers d lists, with the token read from
// tokenFile, or the hub's own token when there is none (a cluster's hub and
// workers share one).
func clusterReader(g *globals, d fanout.Discovery, tokenFile, ownToken string) (*fanout.Cluster, error) {
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
	return fanout.New(fanout.Options{Discovery: d, Token: tok, Logger: g.logger()})
}

// serviceAccountNamespace is where a pod finds its own namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// podDiscovery watches the worker pods through the Kubernetes API: from
// inside the cluster with the pod's ServiceAccount, else with a kubeconfig
// (--kubeconfig, $KUBECONFIG, ~/.kube/config) and its --context.
func podDiscovery(ctx context.Context, g *globals, hc hubConfig) (*discovery.Pods, string, error) {
	var cfg *rest.Config
	var err error
	if hc.kubeconfig == "" && hc.kubeContext == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		cfg, err = rest.InClusterConfig()
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = hc.kubeconfig
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: hc.kubeContext}).ClientConfig()
	}
	if err != nil {
		return nil, "", fmt.Errorf("--worker-pods: no Kubernetes API to watch the workers in: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("--worker-pods: %w", err)
	}
	ns := hc.workerNamespace
	if ns == "" {
		ns = "kubeshark"
		if b, err := os.ReadFile(serviceAccountNamespace); err == nil && strings.TrimSpace(string(b)) != "" {
			ns = strings.TrimSpace(string(b))
		}
	}
	d, err := discovery.Start(ctx, discovery.Options{Client: client, Namespace: ns, Selector: hc.workerPods, Port: hc.workerPort, Logger: g.logger()})
	if err != nil {
		return nil, "", err
	}
	return d, fmt.Sprintf("the pods %s in namespace %s, port %d", hc.workerPods, ns, hc.workerPort), nil
}
