package tls

import (
	"debug/buildinfo"
	"debug/dwarf"
	"debug/elf"
	"debug/gosym"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"
)

// The crypto/tls methods whose plaintext argument is traced.
const (
	goRead  = "crypto/tls.(*Conn).Read"
	goWrite = "crypto/tls.(*Conn).Write"
)

// goOffsets lead from a *tls.Conn to its socket's fd: tls.Conn.conn is a
// net.Conn interface (its data word follows the itab word), a *net.TCPConn
// embeds net.conn whose first field is fd *netFD, and netFD.pfd.Sysfd
// follows poll.FD's 16-byte fdMutex. These have held from Go 1.17, the
// first register-ABI release, to 1.26; for newer releases the binary's
// DWARF, when present, gives them.
type goOffsets struct {
	connData uint64 // of the interface's data word in tls.Conn
	fd       uint64 // of fd in net.conn
	sysfd    uint64 // of pfd.Sysfd in net.netFD
}

var defaultGoOffsets = goOffsets{connData: 8, fd: 0, sysfd: 16}

func (o goOffsets) cookie(read bool) uint64 {
	c := o.connData&0xffff | (o.fd&0xffff)<<16 | (o.sysfd&0xffff)<<32
	if read {
		c |= 1 << 48
	}
	return c
}

// ErrNotGo is returned for a file that is not a Go executable.
var ErrNotGo = errors.New("not a Go executable")

// ErrNoCryptoTLS is returned for a Go executable that does not use
// crypto/tls.
var ErrNoCryptoTLS = errors.New("does not use crypto/tls")

// goTarget is where to put the probes in one Go executable.
type goTarget struct {
	version string
	arch    elf.Machine
	offsets goOffsets
	// file offsets of each function's entry and RET instructions
	entry map[string]uint64
	rets  map[string][]uint64
}

// scanExe hooks the process's executable if it is a Go program using
// crypto/tls.
func (t *Tracer) scanExe(pid uint32) {
	if t.cfg.NoGo {
		return
	}
	path := fmt.Sprintf("/proc/%d/exe", pid)
	id, err := statID(path)
	if err != nil {
		return
	}
	t.mu.Lock()
	_, done := t.hooked[id]
	bad := t.failed[id]
	t.mu.Unlock()
	if done {
		t.mu.Lock()
		t.procs[pid] = true
		t.mu.Unlock()
	}
	if done || bad {
		return
	}
	name, _ := os.Readlink(path)
	tg, err := inspectGo(path)
	if err != nil {
		if _, serr := os.Stat(path); serr != nil {
			return // the process exited meanwhile
		}
		t.mu.Lock()
		t.failed[id] = true
		t.mu.Unlock()
		// Most executables are not Go, or are Go without TLS: not errors.
		if !errors.Is(err, ErrNotGo) && !errors.Is(err, ErrNoCryptoTLS) {
			t.addError(name, err)
		}
		return
	}
	links, err := t.attachGo(path, tg)
	if err != nil {
		if _, serr := os.Stat(path); serr != nil {
			return // the process exited meanwhile: nothing to report
		}
		t.mu.Lock()
		t.failed[id] = true
		t.mu.Unlock()
		t.addError(name, err)
		return
	}
	t.mu.Lock()
	t.hooked[id] = name
	t.bins = append(t.bins, name)
	t.links = append(t.links, links...)
	t.procs[pid] = true
	t.mu.Unlock()
	t.log.Info("tls: hooked Go binary", "path", name, "go", tg.version)
}

func (t *Tracer) attachGo(path string, tg *goTarget) ([]link.Link, error) {
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return nil, err
	}
	if !t.noMulti {
		var enter, enterCookies, rets []uint64
		for _, fn := range []string{goRead, goWrite} {
			enter = append(enter, tg.entry[fn])
			enterCookies = append(enterCookies, tg.offsets.cookie(fn == goRead))
			rets = append(rets, tg.rets[fn]...)
		}
		le, err := ex.UprobeMulti(nil, t.objs.GoTlsEnterMulti, &link.UprobeMultiOptions{Addresses: enter, Cookies: enterCookies})
		if err == nil {
			lr, err := ex.UprobeMulti(nil, t.objs.GoTlsRetMulti, &link.UprobeMultiOptions{Addresses: rets})
			if err != nil {
				le.Close()
				return nil, fmt.Errorf("uprobes on the RETs of crypto/tls.(*Conn).Read and Write: %w", err)
			}
			return []link.Link{le, lr}, nil
		}
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("uprobes on crypto/tls.(*Conn).Read and Write: %w", err)
		}
	}
	var links []link.Link
	for _, fn := range []string{goRead, goWrite} {
		l, err := ex.Uprobe(fn, t.objs.GoTlsEnter, &link.UprobeOptions{Address: tg.entry[fn], Cookie: tg.offsets.cookie(fn == goRead)})
		if err != nil {
			closeAll(links)
			return nil, fmt.Errorf("uprobe on %s: %w", fn, err)
		}
		links = append(links, l)
		for _, off := range tg.rets[fn] {
			l, err := ex.Uprobe(fn, t.objs.GoTlsRet, &link.UprobeOptions{Address: off})
			if err != nil {
				closeAll(links)
				return nil, fmt.Errorf("uprobe on a RET of %s: %w", fn, err)
			}
			links = append(links, l)
		}
	}
	return links, nil
}

// inspectGo finds where to probe crypto/tls in a Go executable, with or
// without its symbol table: the function table in .gopclntab survives
// `-ldflags=-s -w`.
func inspectGo(path string) (*goTarget, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, ErrNotGo
	}
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 && f.Machine != elf.EM_AARCH64 {
		return nil, fmt.Errorf("architecture %s is not supported", f.Machine)
	}
	if !registerABI(bi.GoVersion, f.Machine) {
		return nil, fmt.Errorf("%s predates Go's register ABI on %s", bi.GoVersion, f.Machine)
	}
	tg := &goTarget{version: bi.GoVersion, arch: f.Machine, offsets: defaultGoOffsets, entry: map[string]uint64{}, rets: map[string][]uint64{}}
	funcs, err := findFuncs(f, goRead, goWrite)
	if err != nil {
		return nil, err
	}
	text := f.Section(".text")
	if text == nil {
		return nil, errors.New("no .text section")
	}
	for name, r := range funcs {
		code := make([]byte, r[1]-r[0])
		if _, err := text.ReadAt(code, int64(r[0]-text.Addr)); err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		rets, err := findRets(f.Machine, code)
		if err != nil {
			return nil, fmt.Errorf("disassembling %s: %w", name, err)
		}
		entry, err := fileOffset(f, r[0])
		if err != nil {
			return nil, err
		}
		tg.entry[name] = entry
		for _, rel := range rets {
			off, err := fileOffset(f, r[0]+rel)
			if err != nil {
				return nil, err
			}
			tg.rets[name] = append(tg.rets[name], off)
		}
		if len(tg.rets[name]) == 0 {
			return nil, fmt.Errorf("no RET found in %s", name)
		}
	}
	// Loading DWARF costs about a second on a large binary, so it is read
	// only for Go releases newer than those whose layout is known.
	if !knownLayout(bi.GoVersion) {
		if d, err := f.DWARF(); err == nil {
			if o, ok := dwarfOffsets(d); ok {
				tg.offsets = o
			}
		}
	}
	return tg, nil
}

// newestKnownLayout is the newest Go minor release whose struct layout
// was checked to match defaultGoOffsets (by TestInspectGoStripped's DWARF
// check, with the toolchain of the day; Debian's 1.19 likewise).
const newestKnownLayout = 26

// knownLayout reports whether a Go release is known to lay tls.Conn,
// net.conn, netFD and poll.FD out as defaultGoOffsets says.
func knownLayout(v string) bool {
	v = strings.TrimPrefix(v, "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return false
	}
	minor, err := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return err == nil && minor >= 17 && minor <= newestKnownLayout
}

// registerABI reports whether a Go version passes arguments in registers
// on the architecture: amd64 from 1.17, arm64 from 1.18.
func registerABI(v string, m elf.Machine) bool {
	v = strings.TrimPrefix(v, "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return true // a development build: assume current
	}
	major, _ := strconv.Atoi(parts[0])
	minor, _ := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if major > 1 {
		return true
	}
	if m == elf.EM_AARCH64 {
		return minor >= 18
	}
	return minor >= 17
}

// findFuncs returns the [start, end) addresses of the named functions,
// from the symbol table or, in a stripped binary, from .gopclntab.
func findFuncs(f *elf.File, names ...string) (map[string][2]uint64, error) {
	out := symbols(f, names)
	if len(out) == len(names) {
		return out, nil
	}
	pcln := f.Section(".gopclntab")
	text := f.Section(".text")
	if pcln == nil || text == nil {
		if len(out) == 0 {
			return nil, ErrNoCryptoTLS
		}
		return nil, errors.New("no .gopclntab section")
	}
	data, err := pcln.Data()
	if err != nil {
		return nil, fmt.Errorf("reading .gopclntab: %w", err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return nil, fmt.Errorf("parsing .gopclntab: %w", err)
	}
	for _, n := range names {
		if _, ok := out[n]; ok {
			continue
		}
		fn := tab.LookupFunc(n)
		if fn == nil {
			return nil, ErrNoCryptoTLS
		}
		out[n] = [2]uint64{fn.Entry, fn.End}
	}
	return out, nil
}

// symbols looks the names up in the ELF symbol table without building
// every elf.Symbol: Go binaries have hundreds of thousands, and the tracer
// looks at every executable running.
func symbols(f *elf.File, names []string) map[string][2]uint64 {
	out := map[string][2]uint64{}
	st := f.Section(".symtab")
	if st == nil || f.Class != elf.ELFCLASS64 || int(st.Link) >= len(f.Sections) {
		return out
	}
	data, err := st.Data()
	if err != nil {
		return out
	}
	strs, err := f.Sections[st.Link].Data()
	if err != nil {
		return out
	}
	bo := f.ByteOrder
	for i := elf.Sym64Size; i+elf.Sym64Size <= len(data); i += elf.Sym64Size {
		off := int(bo.Uint32(data[i:]))
		if off <= 0 || off >= len(strs) || strs[off] != 'c' {
			continue
		}
		for _, n := range names {
			end := off + len(n)
			if end < len(strs) && strs[end] == 0 && string(strs[off:end]) == n {
				value, size := bo.Uint64(data[i+8:]), bo.Uint64(data[i+16:])
				if size > 0 {
					out[n] = [2]uint64{value, value + size}
				}
			}
		}
	}
	return out
}

// findRets returns the offsets of the RET instructions in a function's
// code.
func findRets(m elf.Machine, code []byte) ([]uint64, error) {
	var out []uint64
	switch m {
	case elf.EM_X86_64:
		for i := 0; i < len(code); {
			inst, err := x86asm.Decode(code[i:], 64)
			if err != nil {
				// Padding or data between functions: step over a byte.
				i++
				continue
			}
			if inst.Op == x86asm.RET {
				out = append(out, uint64(i))
			}
			i += inst.Len
		}
	case elf.EM_AARCH64:
		for i := 0; i+4 <= len(code); i += 4 {
			inst, err := arm64asm.Decode(code[i : i+4])
			if err == nil && inst.Op == arm64asm.RET {
				out = append(out, uint64(i))
			}
		}
	default:
		return nil, fmt.Errorf("architecture %s is not supported", m)
	}
	return out, nil
}

// fileOffset converts a virtual address to the file offset uprobes take.
func fileOffset(f *elf.File, addr uint64) (uint64, error) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && addr >= p.Vaddr && addr < p.Vaddr+p.Memsz {
			return addr - p.Vaddr + p.Off, nil
		}
	}
	return 0, fmt.Errorf("address %#x is in no executable segment", addr)
}

// dwarfOffsets reads the struct offsets from DWARF, when the binary has it.
func dwarfOffsets(d *dwarf.Data) (goOffsets, bool) {
	want := map[string]string{
		"crypto/tls.Conn":  "conn",
		"net.conn":         "fd",
		"net.netFD":        "pfd",
		"internal/poll.FD": "Sysfd",
	}
	found := map[string]uint64{}
	r := d.Reader()
	for len(found) < len(want) {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			if e.Children && e.Tag != dwarf.TagCompileUnit {
				r.SkipChildren()
			}
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		field, ok := want[name]
		if !ok || !e.Children {
			if e.Children {
				r.SkipChildren()
			}
			continue
		}
		for {
			c, err := r.Next()
			if err != nil || c == nil || c.Tag == 0 {
				break
			}
			if n, _ := c.Val(dwarf.AttrName).(string); n == field {
				if off, ok := c.Val(dwarf.AttrDataMemberLoc).(int64); ok {
					found[name] = uint64(off)
				}
			}
			if c.Children {
				r.SkipChildren()
			}
		}
	}
	if len(found) < len(want) {
		return goOffsets{}, false
	}
	return goOffsets{
		connData: found["crypto/tls.Conn"] + 8,
		fd:       found["net.conn"],
		sysfd:    found["net.netFD"] + found["internal/poll.FD"],
	}, true
}
