package pktfilter

// PortRanges returns inclusive port ranges such that every packet the
// filter matches has its source or destination port in one of them, so a
// capture can leave other packets out before they reach user space (tap
// does it in the kernel). ok is false when the filter does not restrict
// ports that way ("host 10.0.0.1", "tcp", "not port 22"): then every packet
// must be examined.
func (f *Filter) PortRanges() (ranges [][2]uint16, ok bool) {
	return portRanges(f.root)
}

func portRanges(n node) ([][2]uint16, bool) {
	switch n := n.(type) {
	case *portNode:
		return [][2]uint16{{n.lo, n.hi}}, true
	case *binNode:
		l, lok := portRanges(n.l)
		r, rok := portRanges(n.r)
		switch {
		case n.or && lok && rok:
			return append(l, r...), true
		case n.or:
			return nil, false
		case lok && rok:
			// Either side's ports bound the conjunction; keep the
			// narrower.
			if width(r) < width(l) {
				return r, true
			}
			return l, true
		case lok:
			return l, true
		case rok:
			return r, true
		}
	}
	return nil, false
}

func width(rs [][2]uint16) int {
	n := 0
	for _, r := range rs {
		n += int(r[1]) - int(r[0]) + 1
	}
	return n
}
