//go:build wasip1 && (!kubeshark_noglue || kubeshark_fieldlist)

package sdk

// guestFieldList makes Message.Set keep fields in a list inside a wasm guest.
//
// Package tests run inside wasm (-tags kubeshark_noglue) read Fields
// directly, so they keep the map; in-wasm benchmarks add
// -tags kubeshark_fieldlist to measure what a real guest does.
const guestFieldList = true
