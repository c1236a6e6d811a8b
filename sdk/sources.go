//go:build !wasip1

package sdk

import "embed"

// Sources holds the SDKs' own sources, so that `kubeshark plugin new` can
// vendor them into a project that builds offline: this package's Go files,
// the C header (c/kubeshark.h) and the Rust crate (rust/). Only host builds
// carry it; a guest built with this package does not.
//
//go:embed *.go c/kubeshark.h rust/Cargo.toml rust/src/lib.rs
var Sources embed.FS
