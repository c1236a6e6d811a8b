// Package l4 keeps what the kernel said about each live TCP connection
// (bpf/conns events: connect, accept, state changes, retransmissions,
// resets) and the socket cgroup ids the packet hooks saw, and puts them on
// the flows and records the pipeline produces: the process at each local
// end (pid, command, cgroup id) and the connection's kernel lifecycle. It
// sits beside runtime/pipeline in the live data flow; tap feeds it and
// wraps its store with it. It knows nothing of Kubernetes: a cgroup id is
// just a number here.
//
// A connection is matched by its 5-tuple, newest first, within the flow's
// time span, so a tuple reused after TIME_WAIT gets its own entry. Two
// network namespaces using the same addresses look like one tuple; the
// packet hooks cannot tell them apart either.
package l4
