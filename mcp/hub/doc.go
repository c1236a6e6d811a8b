// Package hub serves the store over HTTP: a JSON API for scripts and the
// CLI, and the MCP server over Streamable HTTP at /mcp, both behind one
// bearer token. It is the transport around package mcp — every JSON route
// runs an MCP tool through mcp.Server.Call, so both surfaces give the same
// answers — and `kubeshark hub` and `kubeshark tap` run it. When given a
// Plugins implementation it also serves the plugin store under
// /api/plugins (listing for everyone with the token; install, enable,
// disable and remove only on a hub started with --allow-destructive).
package hub
