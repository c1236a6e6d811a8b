// Package hubauth lets an in-cluster hub accept Kubernetes ServiceAccount
// tokens instead of its own bearer token: `kubeshark hub --auth kubernetes`.
//
// A client (`kubeshark mcp --proxy`) asks the TokenRequest API for a
// short-lived token of the ServiceAccount the chart makes for it, with the
// audience "kubeshark", and sends it in the X-Kubeshark-Token header, which
// the API server's service proxy passes on (it consumes Authorization). The
// hub checks the token with a TokenReview for that audience and then, with
// a SubjectAccessReview, that its subject may get services/proxy named
// kubeshark-hub:http (the name the API server checks for the service proxy
// of the hub's port), so that an administrator grants and revokes access
// with RBAC alone. Results are cached briefly.
//
// It sits between the hub's HTTP handler (package mcp/hub, which knows
// nothing of Kubernetes) and client-go; package hubproxy is its client side.
package hubauth
