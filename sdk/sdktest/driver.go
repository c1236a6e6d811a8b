package sdktest

import (
	"fmt"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Driver feeds one connection of a dissector.
type Driver struct {
	conn     sdk.Conn
	pending  [2][]byte
	headTS   [2]int64
	rejected bool
	switched string
	// Records collects everything the connection emitted.
	Records []*sdk.Record
	// Encoded holds each record's encoding as it was when emitted, for a
	// connection opened with OpenCopying.
	Encoded [][]byte
	// MaxBuffer mimics the host's guest buffer: at most this many pending
	// bytes are offered per call. 0 means 256 KiB.
	MaxBuffer int
	// Misbehaved says how a Feed broke the ABI's contract (consumed more
	// than offered, below -1, or a negative need); empty when none did. The
	// host faults such an instance; tests assert it stays empty.
	Misbehaved string
}

type collector struct{ d *Driver }

func (c collector) Emit(r *sdk.Record) {
	cp := *r
	c.d.Records = append(c.d.Records, &cp)
}
func (c collector) Switch(hint string) { c.d.switched = hint }

// Open starts a connection on d.
func Open(d sdk.Dissector, info sdk.ConnInfo) *Driver {
	dr := &Driver{}
	dr.conn = d.Open(info, collector{dr})
	return dr
}

// OpenCopying starts a connection whose emitter copies, as a wasm guest's
// does (sdk.Copier): each record is encoded when it is emitted and Records
// holds what the host would decode. A dissector may reuse a record's memory
// under it, so a test that compares its records with Open's catches reuse
// that comes too early.
func OpenCopying(d sdk.Dissector, info sdk.ConnInfo) *Driver {
	dr := &Driver{}
	dr.conn = d.Open(info, copier{dr})
	return dr
}

type copier struct{ d *Driver }

func (c copier) Emit(r *sdk.Record) {
	enc := sdk.AppendRecord(nil, r)
	rec, err := sdk.DecodeRecord(enc)
	if err != nil {
		panic(fmt.Sprintf("sdktest: a record does not decode: %v", err))
	}
	c.d.Records = append(c.d.Records, rec)
	c.d.Encoded = append(c.d.Encoded, enc)
}
func (c copier) Switch(hint string)  { c.d.switched = hint }
func (c copier) CopiesRecords() bool { return true }

// Rejected reports that the dissector gave up on the connection.
func (dr *Driver) Rejected() bool { return dr.rejected }

// Switched returns the hint of a protocol switch the dissector signalled.
func (dr *Driver) Switched() string { return dr.switched }

// Feed delivers data in one direction at time ts, then offers pending bytes
// until the dissector stops making progress.
func (dr *Driver) Feed(dir sdk.Direction, data []byte, ts int64) {
	if dr.rejected || dr.switched != "" {
		return
	}
	if len(dr.pending[dir]) == 0 {
		dr.headTS[dir] = ts
	}
	dr.pending[dir] = append(dr.pending[dir], data...)
	max := dr.MaxBuffer
	if max == 0 {
		max = 256 << 10
	}
	for len(dr.pending[dir]) > 0 && dr.switched == "" {
		p := dr.pending[dir]
		if len(p) > max {
			p = p[:max]
		}
		n, need := dr.conn.Feed(dir, p, dr.headTS[dir], ts)
		if (n > len(p) || n < -1 || need < 0) && dr.Misbehaved == "" {
			dr.Misbehaved = fmt.Sprintf("Feed of %d bytes returned consumed %d need %d", len(p), n, need)
		}
		if n < 0 || n > len(p) {
			dr.rejected = true
			return
		}
		if n == 0 {
			if len(p) == max {
				// The guest cannot make progress with a full buffer.
				dr.rejected = true
			}
			return
		}
		dr.pending[dir] = dr.pending[dir][n:]
		dr.headTS[dir] = ts
	}
}

// Gap reports n lost bytes in one direction; pending bytes are dropped with
// it, as the host does.
func (dr *Driver) Gap(dir sdk.Direction, n int, ts int64) {
	if dr.rejected || dr.switched != "" {
		return
	}
	n += len(dr.pending[dir])
	dr.pending[dir] = nil
	dr.conn.Gap(dir, n, ts)
}

// Close ends the connection.
func (dr *Driver) Close(ts int64) {
	if !dr.rejected {
		dr.conn.Close(ts)
	}
}
