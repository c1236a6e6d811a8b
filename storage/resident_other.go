//go:build !linux

package storage

// releaseValueLogs does nothing outside Linux (resident.go).
func (s *Store) releaseValueLogs(map[string]bool) error { return nil }

// fileResident returns 0 outside Linux (resident.go).
func fileResident() int64 { return 0 }
