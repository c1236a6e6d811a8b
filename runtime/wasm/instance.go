package wasm

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/kubeshark-wasm/kubeshark/runtime/engine"
	"github.com/kubeshark-wasm/kubeshark/runtime/wasm/internal/interrupt"
	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/preview"
)

type ctxKey struct{}

// instance is one module instance. Its calls run under a context that lives
// as long as the instance and carries the instance itself, so the host
// imports find their caller without a lookup. The watchdog stops a runaway
// call by raising the instance's interrupt flag, and the call's error then
// closes the instance.
type instance struct {
	m      *Module
	mod    api.Module
	ctx    context.Context
	cancel context.CancelFunc
	sink   engine.Sink
	// lazyFields: the sink takes records whose fields stay encoded.
	lazyFields bool

	fnProbe, fnOpen, fnFeed, fnGap, fnClose, fnDescribe api.Function
	stack                                               [6]uint64

	bufPtr, bufLen uint32
	// buf is the registered buffer as a slice of guest memory, where
	// memoryStays: a feed then copies into it directly instead of through
	// wazero's Memory().Write (two interface calls and its own bounds
	// check, twice per plugin record).
	buf []byte

	flag api.MutableGlobal
	// calls counts call starts and ends, so it is odd during a call. The
	// watchdog times a call by seeing the same odd count tick after tick
	// (watchSeq, watchSince: the watchdog's alone, under the runtime's
	// lock): reading the clock at every call cost more than the call's
	// bookkeeping put together (BENCHMARKS.md, the plugins' split).
	calls      atomic.Uint64
	watchSeq   uint64
	watchSince int64
	timedOut   atomic.Bool
	dead       error

	// inflater serves the inflate import with decompressors kept between
	// calls.
	inflater preview.Decoder
	// dec decodes the guest's records, copying them out of guest memory
	// into chunks shared between records.
	dec sdk.RecordDecoder

	// Per-call state for the emit import.
	conn     uint64
	emitted  int
	manifest []byte
	limitErr error
}

func (m *Module) instantiate(ctx context.Context, sink engine.Sink) (*instance, error) {
	r := m.r
	in := &instance{m: m, sink: sink, lazyFields: engine.TakesEncodedFields(sink)}
	// Only the interpreter watches the context (NewRuntime); the compiler's
	// calls are stopped by the interrupt flag.
	parent, cancel := context.Background(), context.CancelFunc(func() {})
	if r.cfg.Interpreter {
		parent, cancel = context.WithCancel(parent)
	}
	in.ctx, in.cancel = &instanceCtx{Context: parent, in: in}, cancel
	r.track(in)
	mod, err := r.rt.InstantiateModule(experimental.WithMemoryAllocator(in.ctx, memoryAllocator()), m.compiled, r.moduleConfig())
	if err != nil {
		in.release()
		return nil, fmt.Errorf("instantiate: %w", in.describeErr(err))
	}
	in.mod = mod
	flag, ok := mod.ExportedGlobal(interrupt.ExportName).(api.MutableGlobal)
	if !ok {
		in.Destroy(ctx)
		return nil, fmt.Errorf("instantiate: module was not instrumented with an interrupt flag")
	}
	in.flag = flag
	// Go's c-shared start-up (runtime and init functions) runs here, under
	// the same deadline as any call.
	if start := mod.ExportedFunction("_initialize"); start != nil {
		if err := in.invoke(start); err != nil {
			in.Destroy(ctx)
			return nil, fmt.Errorf("_initialize: %w", in.describeErr(err))
		}
	}
	for _, f := range []struct {
		name string
		fn   *api.Function
	}{
		{sdk.ExportProbe, &in.fnProbe}, {sdk.ExportOpen, &in.fnOpen}, {sdk.ExportFeed, &in.fnFeed},
		{sdk.ExportGap, &in.fnGap}, {sdk.ExportClose, &in.fnClose}, {sdk.ExportDescribe, &in.fnDescribe},
	} {
		*f.fn = mod.ExportedFunction(f.name)
	}
	init := mod.ExportedFunction(sdk.ExportInit)
	in.stack[0] = uint64(r.cfg.BufferSize)
	if err := in.call(init); err != nil {
		in.Destroy(ctx)
		return nil, fmt.Errorf("%s: %w", sdk.ExportInit, err)
	}
	if in.stack[0] != 0 {
		in.Destroy(ctx)
		return nil, fmt.Errorf("%s returned %d: no dissector registered", sdk.ExportInit, in.stack[0])
	}
	if in.bufLen < uint32(r.cfg.BufferSize) {
		in.Destroy(ctx)
		return nil, fmt.Errorf("guest registered a %d-byte buffer, host asked for %d", in.bufLen, r.cfg.BufferSize)
	}
	return in, nil
}

func (in *instance) release() {
	in.cancel()
	in.m.r.untrack(in)
}

// Destroy closes the instance.
func (in *instance) Destroy(ctx context.Context) {
	if in.mod != nil {
		in.mod.Close(ctx)
	}
	in.release()
	if in.dead == nil {
		in.dead = errors.New("instance destroyed")
	}
}

// interrupt stops the instance's running call; the watchdog calls it.
// The guest traps at its next function entry or loop header.
func (in *instance) interrupt() {
	in.timedOut.Store(true)
	if in.flag != nil {
		in.flag.Set(1)
	}
	in.cancel() // for the interpreter, which keeps wazero's own check
}

// invoke runs fn with in.stack as arguments and results, under the deadline.
func (in *instance) invoke(fn api.Function) error {
	in.emitted = 0
	in.limitErr = nil
	in.calls.Add(1)
	err := fn.CallWithStack(in.ctx, in.stack[:])
	in.calls.Add(1)
	if err == nil && in.limitErr != nil {
		err = in.limitErr
	}
	return err
}

// call is invoke for the ABI's calls. Any error kills the instance: a guest
// that trapped or ran out of time has state we cannot trust.
func (in *instance) call(fn api.Function) error {
	if in.dead != nil {
		return in.dead
	}
	if err := in.invoke(fn); err != nil {
		err = fmt.Errorf("%s: %w: %w", in.m.name(), engine.ErrFault, in.describeErr(err))
		in.dead = err
		in.m.fault(err)
		in.Destroy(context.Background())
		return err
	}
	return nil
}

// describeErr turns wazero's errors into what an operator needs to read.
func (in *instance) describeErr(err error) error {
	if in.limitErr != nil {
		return in.limitErr
	}
	if in.timedOut.Load() {
		return fmt.Errorf("call exceeded its %s deadline", in.m.r.cfg.CallTimeout)
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("guest exited with code %d (a Go guest does this on panic or out of memory)", exit.ExitCode())
	}
	return err
}

func (in *instance) write(data []byte) uint32 {
	n := min(uint32(len(data)), in.bufLen)
	if memoryStays {
		copy(in.buf, data[:n])
		return n
	}
	in.mod.Memory().Write(in.bufPtr, data[:n])
	return n
}

func (in *instance) describe() ([]byte, error) {
	in.manifest = nil
	if err := in.call(in.fnDescribe); err != nil {
		return nil, err
	}
	if in.manifest == nil {
		return nil, errors.New("guest emitted no manifest")
	}
	return in.manifest, nil
}

// Probe shows the guest the first bytes of a stream.
func (in *instance) Probe(_ context.Context, dir sdk.Direction, data []byte) (sdk.Probe, error) {
	if in.dead != nil {
		return sdk.Probe{}, in.dead
	}
	in.conn = 0
	in.stack[0] = uint64(dir)
	in.stack[1] = uint64(in.write(data))
	if err := in.call(in.fnProbe); err != nil {
		return sdk.Probe{}, err
	}
	return sdk.DecodeProbe(uint32(in.stack[0])), nil
}

// Open starts a connection in the guest.
func (in *instance) Open(_ context.Context, info sdk.ConnInfo) error {
	var flags uint64
	if info.Oriented {
		flags |= sdk.OpenOriented
	}
	if info.UDP {
		flags |= sdk.OpenUDP
	}
	in.conn = info.ID
	in.stack[0], in.stack[1], in.stack[2], in.stack[3] = info.ID, flags, uint64(info.PortA), uint64(info.PortB)
	return in.call(in.fnOpen)
}

// Feed offers stream bytes (at most the buffer size) to a connection.
func (in *instance) Feed(_ context.Context, conn uint64, dir sdk.Direction, data []byte, first, last int64) (int, int, error) {
	if in.dead != nil {
		return 0, 0, in.dead
	}
	in.conn = conn
	n := in.write(data)
	in.stack[0], in.stack[1], in.stack[2], in.stack[3], in.stack[4] = conn, uint64(dir), uint64(n), uint64(first), uint64(last)
	if err := in.call(in.fnFeed); err != nil {
		return 0, 0, err
	}
	consumed, need := sdk.DecodeFeed(in.stack[0])
	if consumed > int(n) {
		err := fmt.Errorf("%s: %w: feed consumed %d of %d bytes", in.m.name(), engine.ErrFault, consumed, n)
		in.dead = err
		in.m.fault(err)
		in.Destroy(context.Background())
		return 0, 0, err
	}
	return consumed, need, nil
}

// Gap tells a connection that bytes were lost.
func (in *instance) Gap(_ context.Context, conn uint64, dir sdk.Direction, n int, ts int64) error {
	in.conn = conn
	in.stack[0], in.stack[1], in.stack[2], in.stack[3] = conn, uint64(dir), uint64(uint32(min(n, 1<<31))), uint64(ts)
	return in.call(in.fnGap)
}

// Close ends a connection in the guest.
func (in *instance) Close(_ context.Context, conn uint64, ts int64) error {
	in.conn = conn
	in.stack[0], in.stack[1] = conn, uint64(ts)
	return in.call(in.fnClose)
}

// instanceCtx is the context of an instance's calls. It answers the host
// functions' question (which instance is calling) and wazero's (once per
// call, whether snapshots are on) without walking a chain of contexts:
// those walks were 200 instructions a record (BENCHMARKS.md).
type instanceCtx struct {
	context.Context
	in *instance
}

// Value implements context.Context.
func (c *instanceCtx) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return c.in
	}
	return c.Context.Value(key)
}

func callerOf(ctx context.Context) *instance {
	if c, ok := ctx.(*instanceCtx); ok {
		return c.in
	}
	in, _ := ctx.Value(ctxKey{}).(*instance)
	return in
}

// hostRegisterBuffer is kubeshark.register_buffer(ptr, len).
func hostRegisterBuffer(ctx context.Context, mod api.Module, stack []uint64) {
	in := callerOf(ctx)
	if in == nil {
		return
	}
	ptr, size := uint32(stack[0]), uint32(stack[1])
	buf, ok := mod.Memory().Read(ptr, size)
	if !ok {
		in.limitErr = fmt.Errorf("register_buffer(%d, %d) is outside guest memory", ptr, size)
		panic(in.limitErr)
	}
	in.bufPtr, in.bufLen = ptr, size
	if memoryStays {
		in.buf = buf[:size:size]
	}
}

// hostEmit is kubeshark.emit(kind, ptr, len). Limits are enforced here,
// inside the guest's call, so a flood stops at the limit instead of after it.
func hostEmit(ctx context.Context, mod api.Module, stack []uint64) {
	in := callerOf(ctx)
	if in == nil {
		return
	}
	kind, ptr, size := uint32(stack[0]), uint32(stack[1]), uint32(stack[2])
	cfg := &in.m.r.cfg
	if int(size) > cfg.MaxRecordBytes {
		in.limitErr = fmt.Errorf("guest emitted %d bytes at once, limit %d", size, cfg.MaxRecordBytes)
		panic(in.limitErr)
	}
	b, ok := mod.Memory().Read(ptr, size)
	if !ok {
		in.limitErr = fmt.Errorf("emit(%d, %d, %d) is outside guest memory", kind, ptr, size)
		panic(in.limitErr)
	}
	switch kind {
	case sdk.EmitRecord:
		in.emitted++
		if in.emitted > cfg.MaxRecordsPerCall {
			in.limitErr = fmt.Errorf("guest emitted more than %d records in one call", cfg.MaxRecordsPerCall)
			panic(in.limitErr)
		}
		var rec *sdk.Record
		var err error
		if in.lazyFields {
			rec, err = in.dec.DecodeLazy(b)
		} else {
			rec, err = in.dec.Decode(b)
		}
		if err != nil {
			in.limitErr = fmt.Errorf("guest emitted a bad record: %w", err)
			panic(in.limitErr)
		}
		if in.sink != nil {
			in.sink.Record(in.conn, rec)
		}
	case sdk.EmitManifest:
		in.manifest = append([]byte(nil), b...)
	case sdk.EmitSwitch:
		if in.sink != nil {
			in.sink.Switch(in.conn, string(b))
		}
	case sdk.EmitLog:
		in.m.r.cfg.Logger.Debug("dissector log", "dissector", in.m.manifest.Name, "msg", string(b[:min(len(b), 512)]))
	default:
		in.limitErr = fmt.Errorf("guest emitted unknown kind %d", kind)
		panic(in.limitErr)
	}
}

// hostInflate is kubeshark.inflate(format, src, src_len, dst, dst_cap) -> n.
// Go's flate runs here natively, ten times faster than compiled into the
// guest. The work is bounded by the source, which lives in guest memory,
// and by the output, capped at the largest item a guest may emit.
func hostInflate(ctx context.Context, mod api.Module, stack []uint64) {
	in := callerOf(ctx)
	if in == nil {
		stack[0] = uint64(uint32(0xFFFFFFFF))
		return
	}
	format, sp, sl, dp, dc := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3]), uint32(stack[4])
	dc = min(dc, uint32(in.m.r.cfg.MaxRecordBytes))
	src, ok := mod.Memory().Read(sp, sl)
	if !ok {
		in.limitErr = fmt.Errorf("inflate source (%d, %d) is outside guest memory", sp, sl)
		panic(in.limitErr)
	}
	dst, ok := mod.Memory().Read(dp, dc)
	if !ok {
		in.limitErr = fmt.Errorf("inflate destination (%d, %d) is outside guest memory", dp, dc)
		panic(in.limitErr)
	}
	n, ok := in.inflater.Inflate(preview.Compression(format), src, dst)
	if !ok {
		stack[0] = uint64(uint32(0xFFFFFFFF))
		return
	}
	stack[0] = uint64(uint32(n))
}
