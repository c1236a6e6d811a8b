// Package discovery finds a cluster hub's workers: the pods of the worker
// DaemonSet, one per node, watched with a client-go informer. It sits
// beside the fan-out (storage/fanout), which asks it on every query which
// workers to read; the informer's cache answers, so discovery costs no
// round trip to the API server per query.
//
// A pod that cannot be asked yet (pending, not ready, unscheduled) is
// still listed, with the reason, so that answers name the node they are
// missing rather than silently covering fewer nodes.
package discovery
