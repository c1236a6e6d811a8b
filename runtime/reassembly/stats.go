package reassembly

// Stats are the Assembler's cumulative counters plus two gauges.
type Stats struct {
	// ConnsOpened and ConnsClosed count Open and Close calls.
	ConnsOpened, ConnsClosed uint64
	// ConnsEvicted counts closes forced by MaxConns.
	ConnsEvicted uint64
	// Packets counts every segment passed to Add.
	Packets uint64
	// BytesDelivered counts bytes passed to Data.
	BytesDelivered uint64
	// OutOfOrderSegments counts segments that had to be buffered.
	OutOfOrderSegments uint64
	// RetransmittedBytes were wholly before the next expected byte.
	RetransmittedBytes uint64
	// OverlapBytes were duplicates trimmed from partly new segments.
	OverlapBytes uint64
	// Gaps and GapBytes count Gap calls and the bytes reported lost.
	Gaps, GapBytes uint64
	// DroppedConnLimitBytes and DroppedTotalLimitBytes are hole bytes given
	// up on early because of MaxBufferedPerConn or MaxBufferedTotal; they are
	// also part of GapBytes.
	DroppedConnLimitBytes, DroppedTotalLimitBytes uint64
	// KeepAlives counts keep-alive probes recognised and skipped.
	KeepAlives uint64
	// IgnoredSegments counts segments that could not be used at all: late
	// segments of a closed connection, stray RSTs, implausible sequence
	// numbers, non-TCP/UDP transports.
	IgnoredSegments uint64
	// IgnoredBytes counts payload beyond a FIN or implausibly far ahead.
	IgnoredBytes uint64

	// ActiveConns is the number of connections open now.
	ActiveConns int
	// BufferedBytes is the number of out-of-order bytes held now.
	BufferedBytes int
}
