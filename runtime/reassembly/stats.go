package reassembly

// Stats are the Assembler's cumulative counters plus two gauges.
type Stats struct {
	// ConnsOpened and ConnsClosed count Open and Close calls.
	ConnsOpened uint64 `json:"conns_opened"`
	ConnsClosed uint64 `json:"conns_closed"`
	// ConnsEvicted counts closes forced by MaxConns.
	ConnsEvicted uint64 `json:"conns_evicted"`
	// Packets counts every segment passed to Add.
	Packets uint64 `json:"packets"`
	// BytesDelivered counts bytes passed to Data.
	BytesDelivered uint64 `json:"bytes_delivered"`
	// OutOfOrderSegments counts segments that had to be buffered.
	OutOfOrderSegments uint64 `json:"out_of_order_segments"`
	// RetransmittedBytes were wholly before the next expected byte.
	RetransmittedBytes uint64 `json:"retransmitted_bytes"`
	// OverlapBytes were duplicates trimmed from partly new segments.
	OverlapBytes uint64 `json:"overlap_bytes"`
	// Gaps and GapBytes count Gap calls and the bytes reported lost.
	Gaps     uint64 `json:"gaps"`
	GapBytes uint64 `json:"gap_bytes"`
	// DroppedConnLimitBytes and DroppedTotalLimitBytes are hole bytes given
	// up on early because of MaxBufferedPerConn or MaxBufferedTotal; they are
	// also part of GapBytes.
	DroppedConnLimitBytes  uint64 `json:"dropped_conn_limit_bytes"`
	DroppedTotalLimitBytes uint64 `json:"dropped_total_limit_bytes"`
	// KeepAlives counts keep-alive probes recognised and skipped.
	KeepAlives uint64 `json:"keep_alives"`
	// IgnoredSegments counts segments that could not be used at all: late
	// segments of a closed connection, stray RSTs, implausible sequence
	// numbers, non-TCP/UDP transports.
	IgnoredSegments uint64 `json:"ignored_segments"`
	// IgnoredBytes counts payload beyond a FIN or implausibly far ahead.
	IgnoredBytes uint64 `json:"ignored_bytes"`

	// ActiveConns is the number of connections open now.
	ActiveConns int `json:"active_conns"`
	// BufferedBytes is the number of out-of-order bytes held now.
	BufferedBytes int `json:"buffered_bytes"`
}
