// Package plugins is the plugin store: dissector modules a user installed,
// beside the built-ins, and everything about getting them there safely.
//
// It sits between the command line and the runtime (cmd → plugins →
// runtime/wasm → sdk). A module arrives from a file, a directory, a
// .tar.gz, an https URL or an OCI registry ([Fetch], [PullOCI]); its
// minisign signature is checked against the trust store of public keys
// ([TrustStore]); it is loaded once in the wasm sandbox to prove that it
// speaks the host's ABI and to read its manifest ([Validate]); then it is
// kept under its sha256 digest in the data directory with a small metadata
// file ([Store]). Commands that dissect ask the store for the enabled
// plugins' bytes ([Store.Enabled]) and hand them to the runtime as they
// hand it the built-ins; the runtime never sees the store.
//
// On disk, under the store's directory:
//
//	<sha256 hex>/module.wasm          the module, byte for byte as signed
//	<sha256 hex>/module.wasm.minisig  its signature, when it had one
//	<sha256 hex>/plugin.json          metadata (Plugin)
//	.generation                       rewritten on every change ([Store.Generation]),
//	                                  read by running taps and hubs to reload
package plugins
