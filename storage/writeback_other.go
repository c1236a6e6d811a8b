//go:build !linux

package storage

// StartWriteback does nothing outside Linux (writeback_linux.go).
func (s *Store) StartWriteback() {}
