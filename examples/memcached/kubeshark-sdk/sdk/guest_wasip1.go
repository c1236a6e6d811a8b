//go:build wasip1 && !kubeshark_noglue

package sdk

import (
	"encoding/json"
	"unsafe"
)

// The exports below are free functions, so the guest's state has to live in
// a package variable: one per module instance, which the host never calls
// concurrently.
var guest struct {
	d     Dissector
	buf   []byte
	conns map[uint64]Conn
	enc   []byte
}

// Register installs the dissector this module exports. Call it from an init
// function of the module's main package.
func Register(d Dissector) { guest.d = d }

//go:wasmimport kubeshark register_buffer
func hostRegisterBuffer(ptr, size uint32)

//go:wasmimport kubeshark emit
func hostEmit(kind, ptr, size uint32)

//go:wasmimport kubeshark inflate
func hostInflate(format, src, srcLen, dst, dstCap uint32) int32

// HostInflate has the host decompress src (InflateGzip, InflateZlib or
// InflateRaw) into dst and returns the bytes written, or -1 when nothing
// decoded. Only a wasm guest has it; sdk/preview is its user.
func HostInflate(format int, src, dst []byte) int {
	if len(dst) == 0 {
		return 0
	}
	var sp uint32
	if len(src) > 0 {
		sp = uint32(uintptr(unsafe.Pointer(&src[0])))
	}
	return int(hostInflate(uint32(format), sp, uint32(len(src)), uint32(uintptr(unsafe.Pointer(&dst[0]))), uint32(len(dst))))
}

func emitBytes(kind uint32, b []byte) {
	if len(b) == 0 {
		hostEmit(kind, 0, 0)
		return
	}
	hostEmit(kind, uint32(uintptr(unsafe.Pointer(&b[0]))), uint32(len(b)))
}

type hostEmitter struct{}

func (hostEmitter) Emit(r *Record) {
	guest.enc = AppendRecord(guest.enc[:0], r)
	emitBytes(EmitRecord, guest.enc)
}

// CopiesRecords is true: Emit has encoded the record when it returns.
func (hostEmitter) CopiesRecords() bool { return true }

func (hostEmitter) Switch(hint string) { emitBytes(EmitSwitch, append([]byte(nil), hint...)) }

// Log sends a diagnostic line to the host's log, where it is rate limited.
func Log(msg string) { emitBytes(EmitLog, []byte(msg)) }

//go:wasmexport kubeshark_abi_v1
func abiMarker() uint32 { return ABIVersion }

//go:wasmexport kubeshark_init
func guestInit(size uint32) uint32 {
	if guest.d == nil {
		return 1
	}
	guest.buf = make([]byte, size)
	guest.conns = make(map[uint64]Conn)
	guest.enc = make([]byte, 0, 4096)
	hostRegisterBuffer(uint32(uintptr(unsafe.Pointer(&guest.buf[0]))), size)
	return 0
}

//go:wasmexport kubeshark_describe
func guestDescribe() {
	b, err := json.Marshal(guest.d.Manifest())
	if err != nil {
		Log("describe: " + err.Error())
		return
	}
	emitBytes(EmitManifest, b)
}

func view(n uint32) []byte {
	if int(n) > len(guest.buf) {
		n = uint32(len(guest.buf))
	}
	return guest.buf[:n]
}

//go:wasmexport kubeshark_probe
func guestProbe(dir, n uint32) uint32 {
	return EncodeProbe(guest.d.Probe(Direction(dir&1), view(n)))
}

//go:wasmexport kubeshark_open
func guestOpen(id uint64, flags, portA, portB uint32) {
	guest.conns[id] = guest.d.Open(ConnInfo{
		ID:       id,
		PortA:    uint16(portA),
		PortB:    uint16(portB),
		Oriented: flags&OpenOriented != 0,
		UDP:      flags&OpenUDP != 0,
	}, hostEmitter{})
}

//go:wasmexport kubeshark_feed
func guestFeed(id uint64, dir, n uint32, first, last int64) uint64 {
	c := guest.conns[id]
	if c == nil {
		return EncodeFeed(-1, 0)
	}
	consumed, need := c.Feed(Direction(dir&1), view(n), first, last)
	return EncodeFeed(consumed, need)
}

//go:wasmexport kubeshark_gap
func guestGap(id uint64, dir, n uint32, ts int64) {
	if c := guest.conns[id]; c != nil {
		c.Gap(Direction(dir&1), int(n), ts)
	}
}

//go:wasmexport kubeshark_close
func guestClose(id uint64, ts int64) {
	if c := guest.conns[id]; c != nil {
		delete(guest.conns, id)
		c.Close(ts)
	}
}
