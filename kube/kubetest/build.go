package kubetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
)

// Binaries are the paths of the programs Start runs.
type Binaries struct {
	APIServer, Etcd string
}

// toolFiles are the inputs of the build, relative to the repository root;
// their digest names the cache directory.
var toolFiles = []string{
	"tools/kube-apiserver/go.mod", "tools/kube-apiserver/go.sum",
	"tools/etcd/go.mod", "tools/etcd/go.sum", "tools/etcd/main.go",
}

// Build returns the kube-apiserver and etcd binaries, building them first
// when the cache does not hold them. KUBESHARK_KUBE_TOOLS names a directory
// holding both instead. Concurrent callers (test packages run in parallel)
// wait on a file lock rather than building twice.
func Build(ctx context.Context) (Binaries, error) {
	if dir := os.Getenv("KUBESHARK_KUBE_TOOLS"); dir != "" {
		b := Binaries{APIServer: filepath.Join(dir, "kube-apiserver"), Etcd: filepath.Join(dir, "etcd")}
		for _, p := range []string{b.APIServer, b.Etcd} {
			if _, err := os.Stat(p); err != nil {
				return Binaries{}, fmt.Errorf("KUBESHARK_KUBE_TOOLS=%s: %w", dir, err)
			}
		}
		return b, nil
	}
	root, err := repoRoot()
	if err != nil {
		return Binaries{}, err
	}
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version())
	for _, f := range toolFiles {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return Binaries{}, fmt.Errorf("kubetest: reading build input: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(data))
		h.Write(data)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return Binaries{}, fmt.Errorf("kubetest: no cache directory: %w", err)
	}
	dir := filepath.Join(cache, "kubeshark", "kube-tools", hex.EncodeToString(h.Sum(nil))[:16])
	b := Binaries{APIServer: filepath.Join(dir, "kube-apiserver"), Etcd: filepath.Join(dir, "etcd")}
	if exists(b.APIServer) && exists(b.Etcd) {
		return b, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("kubetest: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return Binaries{}, fmt.Errorf("kubetest: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return Binaries{}, fmt.Errorf("kubetest: locking %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	for _, t := range []struct{ out, mod, pkg string }{
		{b.Etcd, "tools/etcd", "."},
		{b.APIServer, "tools/kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"},
	} {
		if exists(t.out) {
			continue
		}
		tmp := t.out + ".tmp"
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp, t.pkg)
		cmd.Dir = filepath.Join(root, t.mod)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		// A test that times out exits without waiting: the build must die
		// with it, or it outlives the lock and the next test starts a
		// second build beside it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Run(); err != nil {
			return Binaries{}, fmt.Errorf("kubetest: building %s in %s: %w\n%s", t.pkg, t.mod, err, out.Bytes())
		}
		if err := os.Rename(tmp, t.out); err != nil {
			return Binaries{}, fmt.Errorf("kubetest: %w", err)
		}
	}
	return b, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// repoRoot finds the repository from the test's working directory (a
// package directory somewhere below it).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if exists(filepath.Join(dir, "tools", "kube-apiserver", "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kubetest: no tools/kube-apiserver/go.mod above the working directory")
		}
		dir = parent
	}
}
