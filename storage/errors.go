package storage

import "errors"

// Sentinel errors. Callers test for them with errors.Is; the returned errors
// wrap them with the detail (which id, which term, which directory).
var (
	// ErrNotFound reports a record id or metadata key that is not stored.
	ErrNotFound = errors.New("not found")
	// ErrBadFilter reports a filter expression that does not parse.
	ErrBadFilter = errors.New("bad filter")
	// ErrBadID reports a record id that is not one this package makes, or
	// whose time part disagrees with the record's Timestamp.
	ErrBadID = errors.New("bad record id")
	// ErrBadCursor reports a Query.Cursor that no Page.Next produced.
	ErrBadCursor = errors.New("bad cursor")
	// ErrNotStore reports a directory that holds something other than a
	// record store.
	ErrNotStore = errors.New("not a record store")
	// ErrFormatTooNew reports a store written by a newer build, in a format
	// this one cannot read.
	ErrFormatTooNew = errors.New("store format too new")
	// ErrClosed reports use of a Store after Close.
	ErrClosed = errors.New("store closed")
)
