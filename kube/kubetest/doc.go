// Package kubetest runs a real Kubernetes API server for tests: etcd and
// kube-apiserver built from the Go module proxy (the tools/ modules), started
// on loopback with token authentication and RBAC, one pair per Start.
//
// There is no kubelet, controller manager or scheduler: pods never run. A
// test creates a pod and then sets its status itself (CreatePod), and creates
// Services and EndpointSlices by hand. ServiceAccount admission is off
// because no controller creates the "default" ServiceAccounts; TokenRequest
// and TokenReview work (the server signs with a key made per Start).
//
// The binaries are built once per machine into the per-user cache; a cold
// build takes several minutes on two cores. Outside CI a test skips with the
// reason when they cannot be built; with CI set it fails.
//
// kubetest sits beside the code under test, never in the product: only
// _test.go files import it.
package kubetest
