package storage

import "sync/atomic"

// WriteCounts tells apart what a store's writers added and what they
// stored again: records and flows have ids derived from what they are, so
// a capture imported twice replaces its records and flows instead of
// adding copies, and these counts let a command say so.
type WriteCounts struct {
	// Records is how many records Put stored that were not stored before;
	// RecordsReplaced how many replaced a stored record with the same id.
	Records, RecordsReplaced int64
	// Flows and FlowsReplaced are the same for PutFlows.
	Flows, FlowsReplaced int64
}

// Sub returns the counts written since an earlier reading.
func (c WriteCounts) Sub(before WriteCounts) WriteCounts {
	return WriteCounts{
		Records:         c.Records - before.Records,
		RecordsReplaced: c.RecordsReplaced - before.RecordsReplaced,
		Flows:           c.Flows - before.Flows,
		FlowsReplaced:   c.FlowsReplaced - before.FlowsReplaced,
	}
}

type writeCounters struct {
	records, recordsReplaced, flows, flowsReplaced atomic.Int64
}

// Writes returns what Put and PutFlows have stored since the store was
// opened; take the difference of two readings (WriteCounts.Sub) for one
// import.
func (s *Store) Writes() WriteCounts {
	return WriteCounts{
		Records:         s.writes.records.Load(),
		RecordsReplaced: s.writes.recordsReplaced.Load(),
		Flows:           s.writes.flows.Load(),
		FlowsReplaced:   s.writes.flowsReplaced.Load(),
	}
}
