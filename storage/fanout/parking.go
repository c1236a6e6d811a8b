package fanout

import (
	"sync"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Parking keeps the merge of a page that has a next page open for a
// moment, keyed by the query and the cursor that continues it, so that the
// next page goes on reading the same streams. Without it every page
// started a stream on every node, and each node read up to a whole page
// the merge then dropped: paging through N records cost about N × nodes
// reads, and the analyses page through every record of their window. The
// workers' streams are not limited for the same reason; TCP's flow control
// is what stops a worker that is ahead of the merge.
const (
	// parkIdle is how long a parked merge waits for its next page.
	parkIdle = 10 * time.Second
	// maxParked bounds the merges kept at once; past it a page's merge is
	// closed rather than parked.
	maxParked = 64
)

type parked struct {
	m     *merger[*sdk.Record]
	timer *time.Timer
}

type parking struct {
	mu sync.Mutex
	m  map[string]*parked
}

// take removes and returns the merge parked under key, nil when none is.
func (p *parking) take(key string) *merger[*sdk.Record] {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.m[key]
	if e == nil || !e.timer.Stop() {
		return nil // none, or its timer is closing it
	}
	delete(p.m, key)
	return e.m
}

// park keeps m under key for parkIdle, or closes it when too many are
// kept or key is taken.
func (p *parking) park(key string, m *merger[*sdk.Record]) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*parked{}
	}
	if len(p.m) >= maxParked || p.m[key] != nil {
		m.close()
		return
	}
	e := &parked{m: m}
	e.timer = time.AfterFunc(parkIdle, func() {
		p.mu.Lock()
		if p.m[key] == e {
			delete(p.m, key)
		}
		p.mu.Unlock()
		m.close()
	})
	p.m[key] = e
}

// closeAll closes every parked merge.
func (p *parking) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, e := range p.m {
		if e.timer.Stop() {
			e.m.close()
		}
		delete(p.m, k)
	}
}
