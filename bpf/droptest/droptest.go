// Package droptest loses packets at random on a network interface, for
// tests that need real loss on a real link: it stands in for
// `tc qdisc add ... netem loss`, which needs sch_netem, a module some
// kernels (this project's CI machine among them) do not have. It attaches a
// tiny TCX program; it is test support, outside the data flow.
package droptest

import (
	"fmt"
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// Loss drops about one in every packets arriving on (ingress) or leaving
// (egress) the interface until Close.
type Loss struct {
	prog *ebpf.Program
	l    link.Link
}

// Attach starts dropping one packet in every (at random) on the named
// interface, in the given direction: ebpf.AttachTCXIngress or
// ebpf.AttachTCXEgress.
func Attach(iface string, dir ebpf.AttachType, every int32) (*Loss, error) {
	if every < 1 {
		return nil, fmt.Errorf("droptest: drop one in %d packets: want at least 1", every)
	}
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("droptest: %w", err)
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.SchedCLS,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.FnGetPrandomU32.Call(),
			asm.Mod.Imm(asm.R0, every),
			asm.JNE.Imm(asm.R0, 0, "pass"),
			asm.Mov.Imm(asm.R0, 2), // TCX_DROP
			asm.Return(),
			asm.Mov.Imm(asm.R0, 0).WithSymbol("pass"), // TCX_PASS
			asm.Return(),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("droptest: loading the drop program: %w", err)
	}
	l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: prog, Attach: dir})
	if err != nil {
		prog.Close()
		return nil, fmt.Errorf("droptest: attaching to %s: %w", iface, err)
	}
	return &Loss{prog: prog, l: l}, nil
}

// Close stops the loss.
func (d *Loss) Close() error {
	err := d.l.Close()
	d.prog.Close()
	return err
}
