package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeshark-wasm/kubeshark/kube/hubauth"
	"github.com/kubeshark-wasm/kubeshark/kube/hubproxy"
	"github.com/kubeshark-wasm/kubeshark/mcp"
)

// kubeAuthOptions are the hub's --auth flags.
type kubeAuthOptions struct {
	mode, kubeconfig, context, namespace string
}

// saNamespaceFile is where a pod finds its own namespace.
const saNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// authorizer returns the hub's Authorize hook for --auth kubernetes (nil
// for --auth token) and a line describing it for the hub's banner.
func (o kubeAuthOptions) authorizer(log *slog.Logger) (func(*http.Request) error, string, error) {
	switch o.mode {
	case "", "token":
		// --kubeconfig and --context also serve --worker-pods.
		if o.namespace != "" {
			return nil, "", errors.New("hub: --namespace is only used with --auth kubernetes (it names the namespace of the hub's Service, where callers' RBAC is checked), and this hub checks its own token (--auth token, the default): add --auth kubernetes, or drop --namespace")
		}
		return nil, "", nil
	case "kubernetes":
	default:
		return nil, "", fmt.Errorf("hub: --auth %q: want token or kubernetes", o.mode)
	}
	var cfg *rest.Config
	var err error
	if o.kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, "", fmt.Errorf("hub --auth kubernetes: not running in a pod (%w): pass --kubeconfig", err)
		}
	} else {
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: o.kubeconfig},
			&clientcmd.ConfigOverrides{CurrentContext: o.context}).ClientConfig()
		if err != nil {
			return nil, "", fmt.Errorf("hub --auth kubernetes: kubeconfig %s: %w", o.kubeconfig, err)
		}
	}
	ns := o.namespace
	if ns == "" {
		ns = os.Getenv("POD_NAMESPACE")
	}
	if ns == "" {
		if b, err := os.ReadFile(saNamespaceFile); err == nil {
			ns = strings.TrimSpace(string(b))
		}
	}
	if ns == "" {
		ns = hubauth.DefaultNamespace
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("hub --auth kubernetes: %w", err)
	}
	a, err := hubauth.New(hubauth.Options{Client: client, Namespace: ns, Logger: log})
	if err != nil {
		return nil, "", err
	}
	desc := fmt.Sprintf("authentication: Kubernetes ServiceAccount tokens (audience %q, in %s) checked by %s; RBAC: get services/proxy %s in namespace %s",
		hubauth.Audience, hubauth.Header, cfg.Host, hubauth.ProxyResourceName, ns)
	return a.Authorize, desc, nil
}

// proxyMCPServer is kubeshark mcp --proxy's server: the tools declared
// here, each call forwarded to the in-cluster hub through the API server.
// It says on stderr whether the hub answers, and serves either way.
func proxyMCPServer(ctx context.Context, g *globals, ko hubproxy.Options, stderr io.Writer) (*server.MCPServer, error) {
	ko.Logger = g.logger()
	p := hubproxy.New(ko)
	explain := func(err error) error {
		var e *hubproxy.Error
		if errors.As(err, &e) {
			return e
		}
		return nil
	}
	ro := mcp.RemoteOptions{URL: p.URL(), HTTPClient: p.Client(), Explain: explain, Version: version, Logger: g.logger()}
	r, err := mcp.NewRemote(ro)
	if err != nil {
		return nil, err
	}
	check, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := mcp.CheckHub(check, ro); err != nil {
		fmt.Fprintf(stderr, "kubeshark mcp: %v\nkubeshark mcp: serving the tools anyway; each call tries again\n", err)
	} else {
		fmt.Fprintf(stderr, "kubeshark mcp: %s answers through the Kubernetes API and accepted the token; forwarding to it\n", p.Describe())
	}
	return r, nil
}
