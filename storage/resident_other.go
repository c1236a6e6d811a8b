//go:build !linux

package storage

// releaseValueLogs does nothing outside Linux (resident.go).
func (s *Store) releaseValueLogs(map[string]bool) error { return nil }
