// Package kube gives records and flows their Kubernetes context: which pod,
// service, node and workload held an address (or a socket's cgroup) at the
// record's own time.
//
// It sits between the commands and the store, on the data flow
// cmd → kube → storage/runtime → sdk:
//
//   - [Watch] runs client-go informers (pods, services, EndpointSlices,
//     nodes, namespaces, and ReplicaSets and Jobs to follow owners to the
//     workload) whose transform ([Strip]) keeps only names, namespace, UID,
//     labels, IPs, node, owners, phase, hostNetwork and container ids, and
//     feeds what they see into a [History]; namespaces give their labels
//     (KFL src.namespace.labels), and are optional: an account that may not
//     list them still gets every other name;
//   - a [History] keeps, per address and per cgroup id, bindings with
//     validity intervals keyed by object UID (IPs are reused: only
//     Pending/Running pods hold one; hostNetwork pods resolve to their node;
//     ClusterIPs to their service; EndpointSlices tie pods to services;
//     namespace names to the labels their namespace carried), and
//     persists them in the store's aux key space ([storage.Store.PutAux]), so
//     old records resolve later and snapshots carry the history;
//   - a History implements [storage.Resolver]: the store names both ends of
//     every record and flow as it reads them (resolution at read time, see
//     RATIONALE.md), which is what KFL, the MCP tools and the CLI see;
//   - [ParseCgroupPath] and [ScanCgroups] map the cgroup ids live capture
//     reports to containers and pods on a worker, from the /sys/fs/cgroup
//     paths container runtimes create (containerd, CRI-O, Docker; systemd
//     and cgroupfs drivers).
//
// The runtime and the storage never import this package or client-go.
package kube
