// Package mcp is kubeshark's Model Context Protocol server: the tools,
// resources and prompts through which an AI assistant reads the record and
// flow store. It sits at the end of the data flow (capture → dissectors →
// storage → here) and only reads what storage holds, except for the few
// tools that change what gets dissected, which need Options.AllowDestructive.
//
// One set of tool implementations serves every transport: stdio
// (ServeStdio), Streamable HTTP (HTTPHandler, mounted by the hub), the
// hub's JSON API (Server.Call), and a stdio server that forwards to a remote
// hub (NewRemote), which advertises the same tools and hands each call to
// the hub to run.
//
// Every answer is complete in both of MCP's forms, since clients differ in
// which one they show the model: structuredContent, and a text block that
// is a summary line followed by the same data as JSON (Server.Call, tool.go).
// Tools take Kubeshark's names and arguments where it has them, so that its
// published agent skills run unchanged (tools_kubeshark.go), and accept the
// aliases a model is likely to guess (args.go).
package mcp
