// Package hubproxy reaches the in-cluster hub from the user's machine
// through the Kubernetes API server: `kubeshark mcp --proxy` and `plugin
// ... --proxy` send their HTTP requests through Proxy.Client to Proxy.URL,
// and `kubeshark proxy` (package deploy) serves the hub on 127.0.0.1 with
// Proxy.Client's transport.
//
// Requests go through the API server's service proxy
// (/api/v1/namespaces/NS/services/kubeshark-hub:http/proxy/...) in
// process, over client-go's rest transport with the kubeconfig's
// credentials: no local port. When the API server refuses the service
// proxy (RBAC without services/proxy, or a control plane that cannot reach
// the pod network) they go through a port-forward to a ready hub pod
// instead (client-go tools/portforward, websocket then SPDY), as kubectl
// port-forward does.
//
// Each request carries a ServiceAccount token from the TokenRequest API
// (ServiceAccount kubeshark-mcp-client, audience "kubeshark"), renewed
// before it expires, in the X-Kubeshark-Token header, which the service
// proxy passes on; the hub checks it (package hubauth).
//
// Every failure is an *Error wrapping one of the sentinels (ErrNoKubeconfig,
// ErrAPIUnreachable, ErrNoHub, ErrForbidden, ErrHubNotReady,
// ErrTokenRejected) and says what failed and what to do.
package hubproxy
