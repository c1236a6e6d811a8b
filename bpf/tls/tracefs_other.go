//go:build !linux

package tls

import "errors"

// EnsureTracefs fails: tracing needs Linux.
func EnsureTracefs() error {
	return errors.New("tls: TLS capture needs Linux")
}
