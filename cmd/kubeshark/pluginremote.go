package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubeshark-wasm/kubeshark/kube/hubproxy"
	"github.com/kubeshark-wasm/kubeshark/mcp/hub"
	"github.com/kubeshark-wasm/kubeshark/plugins"
)

// hubPlugins serves the data directory's plugin store through the hub
// (/api/plugins): what `kubeshark plugin install --url` talks to. It checks
// signatures with the hub's own trust store (DATA/trusted-keys and
// /etc/kubeshark), never the client's.
type hubPlugins struct {
	g *globals
	// reserved are the built-in names, read on the first install (it
	// loads the built-ins); a failure is not kept, the next install tries
	// again.
	mu       sync.Mutex
	reserved []string
}

func (h *hubPlugins) store(ctx context.Context) (*plugins.Store, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reserved == nil {
		names, err := builtinNames(ctx, h.g)
		if err != nil {
			return nil, err
		}
		h.reserved = names
	}
	return pluginStore(h.g, h.reserved), nil
}

// hubError gives a plugin store error the hub's kind.
func hubError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, plugins.ErrNotFound):
		return fmt.Errorf("%w: %w", hub.ErrPluginNotFound, err)
	case errors.Is(err, plugins.ErrBadSignature), errors.Is(err, plugins.ErrUnsigned), errors.Is(err, plugins.ErrUntrusted):
		return fmt.Errorf("%w by the hub's trust store: %w", hub.ErrPluginRefused, err)
	case errors.Is(err, plugins.ErrInvalid), errors.Is(err, plugins.ErrConflict), errors.Is(err, plugins.ErrDigest):
		return fmt.Errorf("%w: %w", hub.ErrPluginInvalid, err)
	}
	return err
}

func (h *hubPlugins) List(ctx context.Context) (any, error) {
	ps, err := pluginStore(h.g, nil).List(ctx)
	if ps == nil {
		ps = []plugins.Plugin{}
	}
	return ps, hubError(err)
}

// installResult is the answer to an install, here and through the hub.
type installResult struct {
	Installed plugins.Plugin  `json:"installed"`
	Replaced  *plugins.Plugin `json:"replaced,omitempty"`
	// Nodes are the nodes that took it, from a cluster hub.
	Nodes []string `json:"nodes,omitempty"`
}

func (h *hubPlugins) Install(ctx context.Context, req hub.InstallRequest) (any, error) {
	st, err := h.store(ctx)
	if err != nil {
		return nil, err
	}
	src := req.Source
	if src == "" {
		src = "upload"
	}
	p, replaced, err := st.Install(ctx, plugins.Artifact{Code: req.Module, Sig: req.Signature, Source: src}, plugins.InstallOptions{AllowUnsigned: req.AllowUnsigned, Disabled: req.Disabled})
	if err != nil {
		return nil, hubError(err)
	}
	if p.AllowedUnsigned {
		h.g.logger().Warn("plugin installed through the hub WITHOUT A TRUSTED SIGNATURE (--allow-unsigned)", "plugin", p.Name, "digest", p.Digest, "problem", p.TrustProblem)
	}
	return installResult{Installed: p, Replaced: replaced}, nil
}

func (h *hubPlugins) SetEnabled(ctx context.Context, ref string, enabled bool) (any, error) {
	p, err := pluginStore(h.g, nil).SetEnabled(ctx, ref, enabled)
	return p, hubError(err)
}

func (h *hubPlugins) Remove(ctx context.Context, ref string) (any, error) {
	p, err := pluginStore(h.g, nil).Remove(ctx, ref)
	return p, hubError(err)
}

// remoteOpts are the flags that send a plugin command to a running hub:
// at --url, or in the cluster through the Kubernetes API (--proxy).
type remoteOpts struct {
	url, token string
	proxy      bool
	kube       hubproxy.Options
}

func (r *remoteOpts) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&r.url, "url", "", "do it on the running hub (kubeshark hub or tap) at this URL, e.g. http://127.0.0.1:8898; it checks signatures with its own trust store and must run with --allow-destructive to change anything")
	f.StringVar(&r.token, "token", "", "the hub's bearer token (env KUBESHARK_HUB_TOKEN; kubeshark hub token prints it)")
	f.BoolVar(&r.proxy, "proxy", false, "do it on the in-cluster hub, reached through the Kubernetes API server with your kubeconfig (as mcp --proxy); it must run with --allow-destructive to change anything")
	f.StringVar(&r.kube.Kubeconfig, "kubeconfig", "", "with --proxy: the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&r.kube.Context, "context", "", "with --proxy: the kubeconfig context (default: the current one)")
	f.StringVar(&r.kube.Namespace, "namespace", "", "with --proxy: the hub's namespace (default "+hubproxy.DefaultNamespace+")")
}

// client returns the hub client, nil when the command runs locally.
func (r *remoteOpts) client(logger *slog.Logger) (*hubClient, error) {
	if r.proxy {
		if r.url != "" || r.token != "" {
			return nil, errors.New("--proxy reaches the in-cluster hub through the Kubernetes API with a token of its own: it takes --kubeconfig, --context and --namespace, not --url or --token")
		}
		o := r.kube
		o.Logger = logger
		o.UserAgent = "kubeshark-plugin"
		p := hubproxy.New(o)
		// The timeout covers a module's upload through the API server.
		return &hubClient{base: p.URL(), name: "the " + p.Describe() + " (through the Kubernetes API)",
			http: &http.Client{Transport: p.Client().Transport, Timeout: 5 * time.Minute}}, nil
	}
	if r.kube.Kubeconfig != "" || r.kube.Context != "" || r.kube.Namespace != "" {
		return nil, errors.New("--kubeconfig, --context and --namespace apply to --proxy")
	}
	if r.url == "" {
		if r.token != "" {
			return nil, errors.New("--token needs --url: name the hub")
		}
		return nil, nil
	}
	u, err := url.Parse(r.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want the hub's http:// or https:// address, e.g. http://127.0.0.1:8898", r.url)
	}
	tok := r.token
	if tok == "" {
		tok = os.Getenv("KUBESHARK_HUB_TOKEN")
	}
	if tok == "" {
		return nil, fmt.Errorf("--url %s needs the hub's token: --token T or KUBESHARK_HUB_TOKEN (kubeshark hub token prints it where the hub runs)", r.url)
	}
	base := strings.TrimRight(r.url, "/")
	return &hubClient{base: base, name: "the hub at " + base, token: tok, http: &http.Client{Timeout: 5 * time.Minute}}, nil
}

// hubClient sends plugin commands to a hub's /api/plugins: directly with
// the hub's bearer token, or through the Kubernetes API (--proxy), whose
// transport adds a ServiceAccount token itself (token is then empty).
type hubClient struct {
	base, token string
	// name says which hub for messages: "the hub at http://..." or "the hub NS/SVC
	// (through the Kubernetes API)".
	name string
	http *http.Client
}

// ErrHub is wrapped by errors the hub answered (as opposed to one that
// could not be reached).
var ErrHub = errors.New("hub refused")

func (c *hubClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var pe *hubproxy.Error
		if errors.As(err, &pe) {
			// It says what failed and what to do.
			return fmt.Errorf("%s: %w", c.name, pe)
		}
		return fmt.Errorf("%s is unreachable: %w (is kubeshark hub or tap running there?)", c.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: reading its answer: %w", c.name, err)
	}
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%w: %s rejected the token: %s", ErrHub, c.name, msg)
	case resp.StatusCode == http.StatusNotFound && e.Error == "":
		return fmt.Errorf("%w: %s has no plugin routes (%s): is it an older kubeshark?", ErrHub, c.name, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%w: %s: %s", ErrHub, c.name, msg)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: its answer: %w", c.name, err)
	}
	return nil
}

func (c *hubClient) install(ctx context.Context, a plugins.Artifact, o plugins.InstallOptions) (installResult, error) {
	var res installResult
	err := c.do(ctx, http.MethodPost, "/api/plugins", hub.InstallRequest{Module: a.Code, Signature: a.Sig, Source: a.Source, AllowUnsigned: o.AllowUnsigned, Disabled: o.Disabled}, &res)
	return res, err
}

// listedPlugin is a plugin as a hub lists it: a cluster hub adds the
// nodes where it is installed in that state.
type listedPlugin struct {
	plugins.Plugin
	Nodes []string `json:"nodes,omitempty"`
}

func (c *hubClient) list(ctx context.Context) ([]listedPlugin, error) {
	var ps []listedPlugin
	return ps, c.do(ctx, http.MethodGet, "/api/plugins", nil, &ps)
}

func (c *hubClient) setEnabled(ctx context.Context, ref string, enable bool) (plugins.Plugin, error) {
	verb := "enable"
	if !enable {
		verb = "disable"
	}
	var p plugins.Plugin
	return p, c.do(ctx, http.MethodPost, "/api/plugins/"+url.PathEscape(ref)+"/"+verb, nil, &p)
}

func (c *hubClient) remove(ctx context.Context, ref string) (plugins.Plugin, error) {
	var p plugins.Plugin
	return p, c.do(ctx, http.MethodDelete, "/api/plugins/"+url.PathEscape(ref), nil, &p)
}
