// Command kube-tools builds the kube-apiserver and etcd binaries the
// Kubernetes tests run (see kubetest.Build) and prints their paths, so that
// `make test` pays the cold build once, before test packages start their
// clocks.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kubeshark-wasm/kubeshark/kube/kubetest"
)

func main() {
	start := time.Now()
	b, err := kubetest.Build(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("kube-apiserver: %s\netcd: %s\n(%s)\n", b.APIServer, b.Etcd, time.Since(start).Round(time.Second))
}
