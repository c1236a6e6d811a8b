// Package packets loads and attaches kubeshark's packet-capture programs and
// reads what they capture. It is the kernel end of live capture: packets.c
// copies every packet a local socket sends or receives (cgroup_skb at the
// cgroup v2 root) or that crosses a named interface (TCX), in bounded
// chunks, into one ring buffer; Probe hands the chunks to
// runtime/capture/live, which joins them into packets for the pipeline.
//
// The programs only read struct __sk_buff, a UAPI context the verifier
// rewrites for the running kernel, so they load on any kernel with ring
// buffers (5.8+) without BTF or CO-RE relocations. The object is generated
// by bpf2go (`make bpf`) and committed.
package packets
