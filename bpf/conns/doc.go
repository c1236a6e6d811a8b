// Package conns reports the kernel's TCP connection events from tracepoints
// alone (no kprobes, no fentry): every state change
// (sock:inet_sock_set_state), retransmission (tcp:tcp_retransmit_skb),
// reset sent or received (tcp:tcp_send_reset, tcp:tcp_receive_reset), and
// the accept(2) that hands a passive connection to a process. It sits at the
// start of the live data flow beside bpf/packets and bpf/tls; runtime/l4
// folds its Events into per-connection context that tap stores on flows.
//
// Every event carries the socket's cgroup v2 id, read from the socket itself
// (the number the packet hooks' bpf_skb_cgroup_id gives), and the pid and
// command of the current task only for the events a process's own system
// call makes: connect (-> SYN_SENT), close or shutdown (-> FIN_WAIT1,
// -> LAST_ACK) and accept. A state change caused by an arriving packet runs
// in softirq, on whatever task the CPU interrupted, and reports pid 0, as do
// retransmissions and resets. The process of a passive connection comes from
// the accept event.
//
// What it needs: root (or CAP_BPF and CAP_PERFMON), tracefs's tracepoints,
// and BTF (the accept walk and the cgroup read are CO-RE).
package conns
