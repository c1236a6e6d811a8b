//go:build !wasip1 || (kubeshark_noglue && !kubeshark_fieldlist)

package sdk

// guestFieldList makes Message.Set keep fields in a list inside a wasm guest.
const guestFieldList = false
