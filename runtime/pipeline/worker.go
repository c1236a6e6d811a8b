package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/flow"
	"github.com/kubeshark-wasm/kubeshark/runtime/packet"
	"github.com/kubeshark-wasm/kubeshark/runtime/reassembly"
	"github.com/kubeshark-wasm/kubeshark/sdk"
)

const (
	undecided = -1
	ignored   = -2
)

// slot is one dissector's instance on a worker. gen changes whenever the
// instance is replaced after a fault, which orphans the connections the old
// instance held. Slots are only ever appended, so a stream's slot index
// stays valid across dissector set changes.
type slot struct {
	d    engine.Dissector
	inst engine.Instance
	gen  int
	off  bool // quarantined or failed to start
	ref  string
	m    sdk.Manifest
	// builtin dissectors win probe ties against plugins.
	builtin bool
	// retired slots left the dissector set: they probe no new stream and
	// are destroyed (dead) once the streams they hold (held) end.
	retired, dead bool
	held          int
}

type stream struct {
	conn     *reassembly.Conn
	dis      int
	gen      int
	flip     bool // DirB is the client: swap directions for the guest
	oriented bool
	opened   bool
	buf      [2]streamBuf
	probed   int // datagrams probed, for UDP
	hint     string
	switched bool
	rejected bool
	wasOpen  bool
	// excluded are the slots that faulted on this stream: detection runs
	// again without them (refault set until it has).
	excluded []int
	refault  bool
	closing  bool
	id       string // stream id in records and of the flow
	// ips are the addresses of conn's A and B as records show them, made
	// at the stream's first record instead of at each.
	ips     [2]string
	plain   bool   // plaintext from a tracer (RunPlaintext), not packets
	records uint64 // emitted so far, for record ids
	proto   string // protocol of the dissector that last claimed it
	// flow follows the connection's segments when the sink stores flows;
	// it lives inside the stream so that tracking costs no allocation of
	// its own.
	flow flow.Tracker
}

type worker struct {
	p     *Pipeline
	idx   int
	in    chan *segBatch
	out   chan<- output
	pool  *sync.Pool
	asm   *reassembly.Assembler
	slots []*slot
	// order is the slots of the current dissector set, in probe order,
	// and setGen that set's generation.
	order  []int
	setGen uint64
	// cands is rankBounded's scratch.
	cands []candidate
	batch []*sdk.Record
	flows []*sdk.Flow
	stats Stats
	ctx   context.Context

	// cur is the stream whose instance call is in progress, for Record and
	// Switch, which the instance calls back synchronously.
	cur      *stream
	lastIdle time.Time
}

func (p *Pipeline) newWorker(ctx context.Context, idx int, out chan<- output) (*worker, error) {
	w := &worker{p: p, idx: idx, in: make(chan *segBatch, 8), out: out, ctx: ctx}
	w.asm = reassembly.New(p.cfg.Reassembly, w)
	w.sync(p.set.Load())
	return w, nil
}

// sync makes the worker's slots follow a dissector set: dissectors kept
// keep their slot (and instance and the streams it holds), new ones get a
// slot, and those left out are retired.
func (w *worker) sync(set *dissectorSet) {
	w.setGen = set.gen
	w.order = w.order[:0]
	in := make(map[*slot]bool, len(set.ds))
	for _, d := range set.ds {
		idx := slices.IndexFunc(w.slots, func(s *slot) bool { return s.d == d && !s.dead })
		if idx < 0 {
			m := d.Manifest()
			src := d.Source()
			s := &slot{d: d, m: m, ref: m.Name + "@" + m.Version, builtin: src == "built-in" || src == "native"}
			inst, err := d.NewInstance(w.ctx, w)
			if err != nil {
				w.p.cfg.Logger.Warn("dissector unavailable", "dissector", m.Name, "err", err)
				s.off = true
			}
			s.inst = inst
			w.slots = append(w.slots, s)
			idx = len(w.slots) - 1
		}
		sl := w.slots[idx]
		sl.retired = false
		in[sl] = true
		w.order = append(w.order, idx)
	}
	for _, sl := range w.slots {
		if !in[sl] && !sl.retired && !sl.dead {
			sl.retired = true
			w.release(sl)
		}
	}
}

// release destroys a retired slot's instance once no stream holds it.
func (w *worker) release(sl *slot) {
	if !sl.retired || sl.held > 0 || sl.dead {
		return
	}
	if sl.inst != nil {
		sl.inst.Destroy(context.Background())
	}
	sl.inst, sl.off, sl.dead = nil, true, true
}

// setDis moves a stream to slot d (or to undecided or ignored), keeping
// count of the streams each slot holds.
func (w *worker) setDis(st *stream, d int) {
	if st.dis >= 0 {
		sl := w.slots[st.dis]
		sl.held--
		st.dis = d
		w.release(sl)
	}
	if d >= 0 {
		w.slots[d].held++
	}
	st.dis = d
}

func (w *worker) run(ctx context.Context) {
	var now time.Time
	for b := range w.in {
		for i := range b.segs {
			s := &b.segs[i]
			now = s.Timestamp
			w.asm.Add(s)
		}
		tick := len(b.segs) == 0 && !b.tick.IsZero()
		if tick && b.tick.After(now) {
			now = b.tick
		}
		b.tick = time.Time{}
		w.pool.Put(b)
		// Idle flushing runs on capture time, not wall time, so that an
		// old capture imports the same way whenever it is imported.
		if now.Sub(w.lastIdle) > time.Second {
			w.asm.FlushIdle(now)
			w.lastIdle = now
		}
		w.flushBatch(tick)
	}
	w.asm.FlushAll(now)
	w.flushBatch(true)
	for _, s := range w.slots {
		if s.inst != nil {
			s.inst.Destroy(context.Background())
		}
	}
}

func (w *worker) flushBatch(force bool) {
	n := w.p.cfg.BatchSize
	if len(w.batch) == 0 && len(w.flows) == 0 || !force && len(w.batch) < n && len(w.flows) < n {
		return
	}
	o := output{flows: w.flows}
	if len(w.batch) > 0 {
		o.recs = w.batch
		w.batch = make([]*sdk.Record, 0, n)
	}
	w.out <- o
	w.flows = nil
}

// Open implements reassembly.Handler.
func (w *worker) Open(c *reassembly.Conn, _ time.Time) {
	w.p.streams.Add(1)
	if set := w.p.set.Load(); set.gen != w.setGen {
		w.sync(set)
	}
	st := &stream{conn: c, dis: undecided, oriented: c.Oriented}
	st.flow.Reset(c.Transport)
	c.State = st
	if c.Transport == packet.UDP {
		w.stats.UDPStreams++
	} else {
		w.stats.TCPStreams++
	}
}

// Segment implements reassembly.SegmentHandler: the flow tracker sees every
// segment, the ones that carry no new bytes included.
func (w *worker) Segment(c *reassembly.Conn, dir sdk.Direction, s *packet.Segment) {
	if w.p.flows == nil {
		return
	}
	if st, _ := c.State.(*stream); st != nil {
		st.flow.Observe(dir, s)
	}
}

// Data implements reassembly.Handler.
func (w *worker) Data(c *reassembly.Conn, dir sdk.Direction, data []byte, ts time.Time) {
	st, _ := c.State.(*stream)
	if st == nil || st.dis == ignored || len(data) == 0 {
		return
	}
	ns := ts.UnixNano()
	if c.Transport == packet.UDP {
		w.datagram(st, dir, data, ns)
		return
	}
	// data is the batch's, and only for this call: what the dissector
	// leaves of it is copied into the stream's buffer on the way out.
	b := &st.buf[dir]
	b.lend(data, ns)
	defer b.settle()
	if st.dis == undecided {
		if !w.detect(st, dir) {
			return
		}
	}
	w.pump(st, dir)
}

// datagram handles one UDP datagram: each is offered whole, and whatever the
// dissector leaves of it is dropped.
func (w *worker) datagram(st *stream, dir sdk.Direction, data []byte, ns int64) {
	if st.dis == undecided {
		st.buf[dir].reset()
		st.buf[dir].append(data, ns)
		st.probed++
		if !w.detect(st, dir) {
			st.buf[dir].reset()
			if st.probed >= 4 && st.dis == undecided {
				w.giveUp(st)
			}
			return
		}
		st.buf[dir].reset()
	}
	sl := w.slots[st.dis]
	if !w.live(st) {
		return
	}
	w.cur = st
	_, _, err := sl.inst.Feed(w.ctx, st.conn.ID, w.gdir(st, dir), data[:min(len(data), w.p.cfg.BufferSize)], ns, ns)
	w.cur = nil
	w.check(st, err)
}

func (w *worker) giveUp(st *stream) {
	w.setDis(st, ignored)
	st.buf[0].reset()
	st.buf[1].reset()
	w.stats.Undetected++
}

// gdir maps a reassembly direction to the guest's, which always has the
// client on DirA once the client is known.
func (w *worker) gdir(st *stream, d sdk.Direction) sdk.Direction {
	if st.flip {
		return d ^ 1
	}
	return d
}

// rank probes every dissector of the current set for the stream's
// transport (but those that faulted on it) with what one direction holds so
// far and returns the most confident (the hinted protocol favoured), or -1,
// the most confident of the others that also claimed the stream (rival,
// -1 when none reached MinConfidence), and whether any dissector asked to
// see more. Ties go to a built-in over a plugin, then to a dissector whose
// port hints match, then to the first in order.
func (w *worker) rank(st *stream, dir sdk.Direction) (best, rival int, pr sdk.Probe, wait bool) {
	data := st.buf[dir].bytes()
	if len(data) > w.p.cfg.BufferSize {
		data = data[:w.p.cfg.BufferSize]
	}
	transport := st.conn.Transport.String()
	if w.builtinsOnly(st, transport) {
		return w.rankBounded(st, dir, data, transport)
	}
	return w.rankAll(st, dir, data, transport)
}

// rankAll is rank asking every dissector, in order.
func (w *worker) rankAll(st *stream, dir sdk.Direction, data []byte, transport string) (best, rival int, pr sdk.Probe, wait bool) {
	best, rival = -1, -1
	var rivalConf uint8
	for _, i := range w.order {
		sl := w.slots[i]
		if sl.off || sl.inst == nil || !sl.m.HasTransport(transport) || slices.Contains(st.excluded, i) {
			continue
		}
		p, err := sl.inst.Probe(w.ctx, dir, data)
		if err != nil {
			w.fault(i, st, err)
			continue
		}
		if p.NeedMore {
			wait = true
		}
		if st.hint != "" && containsProto(sl.m.Protocols, st.hint) && p.Confidence > 0 {
			p.Confidence = min(p.Confidence+20, 100)
		}
		loser, loserConf := i, p.Confidence
		if p.Confidence > pr.Confidence || p.Confidence == pr.Confidence && p.Confidence > 0 && w.beats(st, sl, w.slots[best]) {
			loser, loserConf = best, pr.Confidence
			best, pr = i, p
		}
		if loser >= 0 && loserConf >= w.p.cfg.MinConfidence && loserConf >= rivalConf {
			rival, rivalConf = loser, loserConf
		}
	}
	return best, rival, pr, wait
}

// builtinsOnly reports whether every dissector that would probe the stream
// is a built-in. Then no contest is ever reported (contested), so only the
// winner matters and rankBounded may leave out probes that cannot change
// it; with a plugin among them, every probe is heard, since which built-in
// a plugin contests depends on all their answers.
func (w *worker) builtinsOnly(st *stream, transport string) bool {
	for _, i := range w.order {
		sl := w.slots[i]
		if sl.off || sl.inst == nil || !sl.m.HasTransport(transport) || slices.Contains(st.excluded, i) {
			continue
		}
		if !sl.builtin {
			return false
		}
	}
	return true
}

// candidate is a dissector rankBounded may probe: its slot, its place in
// the probe order (which breaks ties) and the most it could answer.
type candidate struct {
	slot, pos int
	bound     uint8
}

// rankBounded is rank when only built-ins probe the stream. It returns the
// same winner as probing them all in order, but asks them most promising
// first (by the bound a ProbeBounder gives, such as a built-in's prefilter)
// and skips those whose bound cannot beat a claim already made: a module
// is compiled (seconds for a Go guest) only when its answer could change
// which dissector takes the stream. On plain HTTP/1 the Redis module, whose
// probe gives "GET /" a low score as an inline command, is no longer
// compiled to lose. Ties go as rank breaks them: port hints, then order.
// A skipped probe can neither want more bytes (wait) nor fault, but both
// matter only when nothing claims the stream, and then nothing is skipped.
// rival is -1 or a built-in, which contested does not report.
func (w *worker) rankBounded(st *stream, dir sdk.Direction, data []byte, transport string) (best, rival int, pr sdk.Probe, wait bool) {
	cands := w.cands[:0]
	for pos, i := range w.order {
		sl := w.slots[i]
		if sl.off || sl.inst == nil || !sl.m.HasTransport(transport) || slices.Contains(st.excluded, i) {
			continue
		}
		bound := uint8(100)
		if b, ok := sl.inst.(engine.ProbeBounder); ok {
			bound = b.ProbeBound(dir, data)
		}
		if w.hinted(st, sl) && bound > 0 {
			bound = min(bound+20, 100)
		}
		cands = append(cands, candidate{slot: i, pos: pos, bound: bound})
	}
	w.cands = cands
	slices.SortStableFunc(cands, func(a, b candidate) int { return int(b.bound) - int(a.bound) })
	best, rival = -1, -1
	var bestPos int
	var rivalConf uint8
	for _, c := range cands {
		sl := w.slots[c.slot]
		if best >= 0 && pr.Confidence >= w.p.cfg.MinConfidence && !w.outranks(st, c, c.bound, best, bestPos, pr.Confidence) {
			w.stats.ProbesSkipped++
			continue
		}
		if sl.off || sl.inst == nil {
			continue
		}
		p, err := sl.inst.Probe(w.ctx, dir, data)
		if err != nil {
			w.fault(c.slot, st, err)
			continue
		}
		if p.NeedMore {
			wait = true
		}
		if w.hinted(st, sl) && p.Confidence > 0 {
			p.Confidence = min(p.Confidence+20, 100)
		}
		loser, loserConf := c.slot, p.Confidence
		if w.outranks(st, c, p.Confidence, best, bestPos, pr.Confidence) {
			loser, loserConf = best, pr.Confidence
			best, bestPos, pr = c.slot, c.pos, p
		}
		if loser >= 0 && loserConf >= w.p.cfg.MinConfidence && loserConf >= rivalConf {
			rival, rivalConf = loser, loserConf
		}
	}
	return best, rival, pr, wait
}

// outranks reports whether built-in candidate c answering conf takes the
// stream from best (at bestPos, answering bestConf): as rank decides when
// it asks them in order, more confidence wins, then a port hint, then the
// earlier place in the order.
func (w *worker) outranks(st *stream, c candidate, conf uint8, best, bestPos int, bestConf uint8) bool {
	if conf != bestConf {
		return conf > bestConf
	}
	if conf == 0 || best < 0 {
		return false
	}
	ch, bh := w.portHint(st, w.slots[c.slot]), w.portHint(st, w.slots[best])
	if ch != bh {
		return ch
	}
	return c.pos < bestPos
}

// hinted reports whether the stream's protocol hint (a Switch) names one
// of the dissector's protocols, which adds 20 to its probe's confidence.
func (w *worker) hinted(st *stream, sl *slot) bool {
	return st.hint != "" && containsProto(sl.m.Protocols, st.hint)
}

// beats breaks a tie between two dissectors whose probes claimed a stream
// with the same confidence: a built-in beats a plugin, so that installing
// a plugin never takes traffic from a built-in that recognises it; then a
// dissector whose port hints match beats one whose do not.
func (w *worker) beats(st *stream, a, b *slot) bool {
	if a.builtin != b.builtin {
		return a.builtin
	}
	return w.portHint(st, a) && !w.portHint(st, b)
}

// contested reports that two dissectors, one of them a plugin, both
// claimed a stream: against the plugin (the loser when both are plugins),
// so that `kubeshark dissectors` names the plugin that contests other
// dissectors' traffic, or takes it. Overlaps between built-ins are the
// built-ins' own design and are not reported.
func (w *worker) contested(st *stream, winner, loser int, conf uint8) {
	win, lose := w.slots[winner], w.slots[loser]
	if win.builtin && lose.builtin {
		return
	}
	w.stats.Contested++
	if lose.builtin {
		w.dissectorError(winner, st, "contested", "", fmt.Sprintf("its probe took the connection with confidence %d from %s, which also claimed it; --decode-as PORT=%s gives such connections back", conf, lose.ref, lose.m.Name))
		return
	}
	w.dissectorError(loser, st, "contested", "", fmt.Sprintf("its probe claimed the connection, as did %s (confidence %d), which took it (the more confident wins; ties go to built-ins, then port hints, then the first loaded); --decode-as PORT=%s pins such connections to it", win.ref, conf, lose.m.Name))
}

// pinned is the slot --decode-as pins one of the stream's ports to, and
// whether the sender of dir is the side with that port (the server).
func (w *worker) pinned(st *stream, dir sdk.Direction) (idx int, fromServer, ok bool) {
	pins := *w.p.decodeAs.Load()
	if len(pins) == 0 {
		return -1, false, false
	}
	sender, receiver := st.conn.A, st.conn.B
	if dir == sdk.DirB {
		sender, receiver = receiver, sender
	}
	transport := st.conn.Transport.String()
	for _, side := range []struct {
		port       uint16
		fromServer bool
	}{{receiver.Port(), false}, {sender.Port(), true}} {
		name, found := pins[side.port]
		if !found {
			continue
		}
		for _, i := range w.order {
			sl := w.slots[i]
			if sl.off || sl.inst == nil || !sl.m.HasTransport(transport) || slices.Contains(st.excluded, i) {
				continue
			}
			if sl.m.Name == name || containsProto(sl.m.Protocols, name) {
				return i, side.fromServer, true
			}
		}
	}
	return -1, false, false
}

// detect probes the dissectors with what a direction has so far. It returns
// true once a dissector owns the stream.
func (w *worker) detect(st *stream, dir sdk.Direction) bool {
	if idx, fromServer, ok := w.pinned(st, dir); ok {
		w.claim(st, idx, dir, fromServer)
		return true
	}
	best, tie, pr, wait := w.rank(st, dir)
	if best >= 0 && pr.Confidence >= w.p.cfg.MinConfidence {
		if tie >= 0 {
			w.contested(st, best, tie, pr.Confidence)
		}
		w.claim(st, best, dir, pr.FromServer)
		return true
	}
	total := st.buf[0].len() + st.buf[1].len()
	if (!wait || total >= w.p.cfg.ProbeLimit) && st.conn.Transport == packet.TCP {
		// Before giving up on this direction, the other may still be
		// recognisable (a capture that starts with the server speaking
		// first in a protocol that greets). Give up once both have spoken.
		other := st.buf[dir^1].len()
		if other == 0 && total < w.p.cfg.ProbeLimit {
			return false
		}
		if other > 0 && other < w.p.cfg.ProbeLimit {
			// Probe the other direction once too.
			if best, tie, pr, _ := w.rank(st, dir^1); best >= 0 && pr.Confidence >= w.p.cfg.MinConfidence {
				if tie >= 0 {
					w.contested(st, best, tie, pr.Confidence)
				}
				w.claim(st, best, dir^1, pr.FromServer)
				return true
			}
		}
		w.giveUp(st)
	}
	return false
}

func containsProto(ps []string, p string) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func (w *worker) portHint(st *stream, sl *slot) bool {
	for _, p := range sl.m.PortHints {
		if st.conn.A.Port() == p || st.conn.B.Port() == p {
			return true
		}
	}
	return false
}

// claim binds a stream to a dissector and opens it there.
func (w *worker) claim(st *stream, idx int, dir sdk.Direction, fromServer bool) {
	sl := w.slots[idx]
	w.setDis(st, idx)
	st.gen = sl.gen
	st.proto = protocolOf(sl.m)
	if !st.oriented {
		// The probe told us which side spoke: orient the guest's view.
		clientDir := dir
		if fromServer {
			clientDir = dir ^ 1
		}
		st.flip = clientDir == sdk.DirB
		st.oriented = true
	}
	pa, pb := st.conn.A.Port(), st.conn.B.Port()
	if st.flip {
		pa, pb = pb, pa
	}
	w.cur = st
	err := sl.inst.Open(w.ctx, sdk.ConnInfo{ID: st.conn.ID, PortA: pa, PortB: pb, Oriented: true, UDP: st.conn.Transport == packet.UDP})
	w.cur = nil
	if w.check(st, err) {
		st.opened = true
		st.wasOpen = true
		// Bytes the other direction buffered while we were detecting.
		if st.buf[dir^1].len() > 0 && st.conn.Transport == packet.TCP {
			w.pump(st, dir^1)
		}
	}
}

// live reports whether the stream's instance is still the one it was opened
// on. A stream whose instance was restarted after a fault on another
// connection has lost its state there: it goes back to detection without
// that dissector, with the bytes it still holds.
func (w *worker) live(st *stream) bool {
	if st.dis < 0 {
		return false
	}
	sl := w.slots[st.dis]
	if sl.off || sl.inst == nil || sl.gen != st.gen {
		if !w.handBack(st, st.dis) {
			w.stats.DroppedAfterFault++
		}
		return false
	}
	return true
}

// handBack takes a stream from the dissector of slot idx, which can no
// longer serve it (its instance faulted), and gives it back to detection
// without that dissector: the bytes the stream still holds, and those that
// follow, are probed again by the others. It reports whether it did; a
// closing stream is dropped instead.
func (w *worker) handBack(st *stream, idx int) bool {
	w.setDis(st, ignored)
	st.opened = false
	if st.closing || idx < 0 {
		return false
	}
	if !slices.Contains(st.excluded, idx) {
		st.excluded = append(st.excluded, idx)
	}
	w.setDis(st, undecided)
	// The faulted dissector's probe chose the orientation.
	st.oriented, st.flip = st.conn.Oriented, false
	st.refault = true
	st.probed = 0
	w.stats.Redetected++
	return true
}

// retry runs detection again on a stream handed back after a fault.
func (w *worker) retry(st *stream) {
	st.refault = false
	if st.dis != undecided {
		return
	}
	for d := sdk.DirA; d <= sdk.DirB; d++ {
		if st.buf[d].len() > 0 && st.dis == undecided && w.detect(st, d) {
			w.pump(st, d)
			return
		}
	}
}

// pump offers a direction's pending bytes until the dissector stops
// consuming, then gives the other direction a turn: consuming one side can
// unblock the other (a request held back until its Upgrade is answered).
func (w *worker) pump(st *stream, dir sdk.Direction) {
	for round := 0; round < 4; round++ {
		progressed := w.pumpDir(st, dir)
		if st.dis < 0 || st.switched {
			break
		}
		if !progressed || st.buf[dir^1].len() == 0 {
			break
		}
		dir ^= 1
	}
	if st.switched {
		w.redetect(st)
	} else if st.refault {
		w.retry(st)
	}
}

func (w *worker) pumpDir(st *stream, dir sdk.Direction) bool {
	progressed := false
	b := &st.buf[dir]
	for b.len() > 0 && !st.switched {
		if !w.live(st) {
			return progressed
		}
		sl := w.slots[st.dis]
		data := b.bytes()
		if len(data) > w.p.cfg.BufferSize {
			data = data[:w.p.cfg.BufferSize]
		}
		w.cur = st
		n, _, err := sl.inst.Feed(w.ctx, st.conn.ID, w.gdir(st, dir), data, b.first(), b.lastWithin(len(data)))
		w.cur = nil
		if !w.check(st, err) {
			return progressed
		}
		if n < 0 {
			w.reject(st, "gave up on the connection: not its protocol after all, or bytes it cannot parse")
			return progressed
		}
		if n == 0 {
			if len(data) == w.p.cfg.BufferSize {
				// The guest cannot progress with a full buffer: it would
				// need more than we may hold.
				w.reject(st, fmt.Sprintf("could not progress with a full %d-byte buffer", w.p.cfg.BufferSize))
			}
			return progressed
		}
		b.consume(n)
		progressed = true
	}
	return progressed
}

// dissectorError counts an error of slot idx's dissector, keeps it as an
// example while there are few, and logs it at debug level (kubeshark -v).
func (w *worker) dissectorError(idx int, st *stream, kind, record string, err string) {
	if kind != "contested" {
		w.stats.DissectorErrors++
	}
	if idx < 0 || idx >= len(w.slots) {
		return
	}
	name := w.slots[idx].m.Name
	e := DissectorError{Kind: kind, Record: record, Error: err}
	if st != nil && st.conn != nil {
		c := st.conn
		if st.id == "" {
			st.id = streamID(c)
		}
		e.Stream = st.id
		e.Conn = fmt.Sprintf("%s %s ↔ %s", c.Transport, c.A, c.B)
		e.Time = c.LastSeen.UTC()
	}
	w.p.cfg.Logger.Debug("dissector error", "dissector", name, "kind", kind, "stream", e.Stream, "conn", e.Conn, "record", record, "err", err)
	if w.stats.ErrorsByDissector == nil {
		w.stats.ErrorsByDissector = map[string]*DissectorErrors{}
	}
	d := w.stats.ErrorsByDissector[name]
	if d == nil {
		d = &DissectorErrors{}
		w.stats.ErrorsByDissector[name] = d
	}
	d.Merge(&DissectorErrors{Count: 1, Examples: []DissectorError{e}})
}

func (w *worker) reject(st *stream, why string) {
	sl := w.slots[st.dis]
	idx := st.dis
	w.cur = st
	_ = sl.inst.Close(w.ctx, st.conn.ID, st.conn.LastSeen.UnixNano())
	w.cur = nil
	w.setDis(st, ignored)
	st.opened = false
	st.buf[0].reset()
	st.buf[1].reset()
	w.stats.Rejected++
	w.dissectorError(idx, st, "rejected", "", why)
}

// redetect closes the stream in its dissector after a protocol switch and
// looks for the protocol of what remains.
func (w *worker) redetect(st *stream) {
	sl := w.slots[st.dis]
	if w.live(st) {
		w.cur = st
		err := sl.inst.Close(w.ctx, st.conn.ID, st.conn.LastSeen.UnixNano())
		w.cur = nil
		w.check(st, err)
	}
	st.switched = false
	st.opened = false
	if st.dis >= 0 {
		w.setDis(st, undecided)
	}
	st.refault = false
	if st.dis != undecided {
		return
	}
	for d := sdk.DirA; d <= sdk.DirB; d++ {
		if st.buf[d].len() > 0 && st.dis == undecided {
			if w.detect(st, d) {
				w.pump(st, d)
				return
			}
		}
	}
}

// check handles an instance error: the instance is replaced, and the
// stream goes back to detection without the dissector (the other streams
// the instance held follow when next fed: see live). It reports whether
// the call succeeded.
func (w *worker) check(st *stream, err error) bool {
	if err == nil {
		return true
	}
	idx := st.dis
	w.fault(idx, st, err)
	if !w.handBack(st, idx) {
		w.stats.DroppedAfterFault++
	}
	return false
}

func (w *worker) fault(idx int, st *stream, err error) {
	if idx < 0 {
		return
	}
	sl := w.slots[idx]
	w.dissectorError(idx, st, "fault", "", err.Error())
	if !errors.Is(err, engine.ErrFault) {
		w.p.cfg.Logger.Warn("dissector call failed", "dissector", sl.m.Name, "err", err)
	}
	w.p.cfg.Logger.Warn("dissector instance fault: restarting it", "dissector", sl.m.Name, "worker", w.idx, "err", err)
	if sl.inst != nil {
		sl.inst.Destroy(context.Background())
	}
	sl.gen++
	if sl.retired {
		// Out of the set: its remaining streams go to the others.
		sl.inst, sl.off, sl.dead = nil, true, true
		return
	}
	inst, nerr := sl.d.NewInstance(w.ctx, w)
	if nerr != nil {
		w.p.cfg.Logger.Warn("dissector disabled", "dissector", sl.m.Name, "worker", w.idx, "err", nerr)
		sl.inst, sl.off = nil, true
		return
	}
	sl.inst = inst
}

// Gap implements reassembly.Handler.
func (w *worker) Gap(c *reassembly.Conn, dir sdk.Direction, n int, ts time.Time) {
	st, _ := c.State.(*stream)
	if st == nil || st.dis == ignored {
		return
	}
	lost := n + st.buf[dir].len()
	st.buf[dir].reset()
	if st.dis == undecided || !w.live(st) {
		return
	}
	sl := w.slots[st.dis]
	w.cur = st
	err := sl.inst.Gap(w.ctx, c.ID, w.gdir(st, dir), lost, ts.UnixNano())
	w.cur = nil
	w.check(st, err)
	if st.dis >= 0 && st.buf[dir^1].len() > 0 {
		w.pump(st, dir^1)
	}
}

// Close implements reassembly.Handler.
func (w *worker) Close(c *reassembly.Conn, reason reassembly.CloseReason, ts time.Time) {
	st, _ := c.State.(*stream)
	if st == nil {
		return
	}
	if st.dis == undecided && !st.wasOpen && (st.buf[0].len() > 0 || st.buf[1].len() > 0) {
		w.stats.Undetected++
	}
	st.closing = true
	if st.dis >= 0 && st.opened && w.live(st) {
		sl := w.slots[st.dis]
		w.cur = st
		err := sl.inst.Close(w.ctx, c.ID, ts.UnixNano())
		w.cur = nil
		w.check(st, err)
	}
	w.setDis(st, ignored)
	if w.p.flows != nil && !st.plain {
		// After the dissector's Close, which may still emit records.
		w.addFlow(st, reason)
	}
	c.State = nil
}

// addFlow queues the connection's flow for the sink, oriented like its
// records and under the same id.
func (w *worker) addFlow(st *stream, reason reassembly.CloseReason) {
	c := st.conn
	if st.id == "" {
		st.id = streamID(c)
	}
	f := st.flow.Flow(st.id, c.A, c.B, st.flip)
	f.Protocol = st.proto
	f.Records = int(st.records)
	f.CloseReason = reason.String()
	w.flows = append(w.flows, &f)
	w.stats.Flows++
}

// protocolOf is the protocol a dissector's records default to.
func protocolOf(m sdk.Manifest) string {
	if len(m.Protocols) > 0 {
		return m.Protocols[0]
	}
	return m.Name
}

// TakesEncodedFields makes the worker an engine.EncodedFieldsSink: records
// pass through it to the pipeline's sink untouched, so it takes encoded
// fields when that sink does.
func (w *worker) TakesEncodedFields() bool { return w.p.encodedFields }

// Record implements engine.Sink: the host's part of the record contract.

func (w *worker) Record(_ uint64, r *sdk.Record) {
	st := w.cur
	if st == nil {
		return
	}
	sl := w.slots[st.dis]
	c := st.conn
	if !st.plain && w.p.plain.has(makePlainKey(c.A, c.B)) && r.Protocol != "tls" && (r.Protocol != "" || protocolOf(sl.m) != "tls") {
		// The connection's plaintext is captured: its record comes from
		// there. The TLS handshake record is the packets' own.
		w.stats.PlaintextSuppressed++
		return
	}
	if st.ips[0] == "" {
		st.ips = [2]string{c.A.Addr().Unmap().String(), c.B.Addr().Unmap().String()}
	}
	client, server := c.A, c.B
	cip, sip := st.ips[0], st.ips[1]
	if st.flip {
		client, server, cip, sip = server, client, sip, cip
	}
	if r.RequestDir == sdk.DirB {
		client, server, cip, sip = server, client, sip, cip
	}
	r.Src = sdk.Endpoint{IP: cip, Port: client.Port()}
	r.Dst = sdk.Endpoint{IP: sip, Port: server.Port()}
	if st.id == "" {
		if st.plain {
			st.id = plainStreamID(c)
		} else {
			st.id = streamID(c)
		}
	}
	r.Stream = st.id
	r.TLS = st.plain
	r.Dissector = sl.ref
	if r.Protocol == "" {
		r.Protocol = protocolOf(sl.m)
	}
	if r.Timestamp.IsZero() {
		r.Timestamp = c.LastSeen
	}
	if !r.End.IsZero() && r.Response != nil {
		ms := float64(r.End.Sub(r.Timestamp).Nanoseconds()) / 1e6
		if ms < 0 {
			ms = 0
		}
		r.ElapsedMs = &ms
	}
	st.records++
	if w.p.cfg.NewID != nil {
		r.ID = w.p.cfg.NewID(r.Timestamp, recordKey(st.id, st.records, r))
	}
	w.stats.Records++
	if w.stats.ByProtocol == nil {
		w.stats.ByProtocol = map[string]int64{}
	}
	w.stats.ByProtocol[r.Protocol]++
	if r.Failed && r.Status == 0 && r.Error != "" {
		w.dissectorError(st.dis, st, "malformed", r.ID, r.Error)
	}
	w.batch = append(w.batch, r)
}

// Switch implements engine.Sink.
func (w *worker) Switch(_ uint64, hint string) {
	if st := w.cur; st != nil {
		st.switched = true
		st.hint = hint
	}
}
