package packets

import (
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AttachInterface falls back to TC on kernels without TCX (before 6.6):
// each program becomes a direct-action cls_bpf filter on the interface's
// clsact qdisc. cilium/ebpf has no netlink helper for tc, so the qdisc and
// filters are made with vishvananda/netlink.

// filterPriority is the filters' tc priority: low numbers run first, and
// the program always lets the packet on (TC_ACT_UNSPEC, TC_ACT_OK).
const filterPriority = 1

// addClsact gives the interface a clsact qdisc. It returns a closer that
// removes it when it was added here, and nil when one was there before
// (another tool's, left alone).
func addClsact(ifindex int) (io.Closer, error) {
	q := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	}
	switch err := netlink.QdiscAdd(q); {
	case err == nil:
		return qdiscCloser{q}, nil
	case errors.Is(err, unix.EEXIST):
		return nil, nil
	default:
		return nil, fmt.Errorf("adding a clsact qdisc: %w", err)
	}
}

type qdiscCloser struct{ q *netlink.GenericQdisc }

// Close removes the qdisc (and with it any filter left on it); an
// interface that is gone took it with it.
func (c qdiscCloser) Close() error {
	if err := netlink.QdiscDel(c.q); err != nil && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("removing the clsact qdisc: %w", err)
	}
	return nil
}

// clsactFilter is one program attached as a filter on the clsact qdisc.
type clsactFilter struct{ f *netlink.BpfFilter }

func attachClsact(ifindex int, prog *ebpf.Program, egress bool) (io.Closer, error) {
	parent := uint32(netlink.HANDLE_MIN_INGRESS)
	name := "kubeshark-ingress"
	if egress {
		parent, name = netlink.HANDLE_MIN_EGRESS, "kubeshark-egress"
	}
	f := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: ifindex,
			Parent:    parent,
			Handle:    netlink.MakeHandle(0, 1),
			Protocol:  unix.ETH_P_ALL,
			Priority:  filterPriority,
		},
		Fd:           prog.FD(),
		Name:         name,
		DirectAction: true,
	}
	if err := netlink.FilterAdd(f); err != nil {
		return nil, fmt.Errorf("adding a bpf filter to the clsact qdisc: %w", err)
	}
	return clsactFilter{f}, nil
}

// Close removes the filter; an interface or qdisc that is gone took it
// with it.
func (c clsactFilter) Close() error {
	if err := netlink.FilterDel(c.f); err != nil && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("removing the %s filter: %w", c.f.Name, err)
	}
	return nil
}
