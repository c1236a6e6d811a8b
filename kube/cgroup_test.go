package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	uid  = "8d9ab4b0-6f2e-4c6a-9b1e-3f0a1c2d3e4f"
	uidU = "8d9ab4b0_6f2e_4c6a_9b1e_3f0a1c2d3e4f"
	cid  = "3b5f7c9e1a2d4f6b8c0e2a4c6e8a0b2d4f6a8c0e2b4d6f8a0c2e4a6b8d0f2a4c"
)

// TestParseCgroupPath holds the paths the kubelet and the runtimes create
// under each cgroup driver (as seen in /proc/PID/cgroup on real nodes).
func TestParseCgroupPath(t *testing.T) {
	for _, c := range []struct {
		name, path string
		pod, ctr   string
		ok         bool
	}{
		{"containerd, systemd driver, burstable", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope", uid, cid, true},
		{"containerd, systemd driver, guaranteed", "/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope", uid, cid, true},
		{"cri-o, systemd driver", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/crio-" + cid + ".scope", uid, cid, true},
		{"cri-o conmon belongs to the pod only", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/crio-conmon-" + cid + ".scope", uid, "", true},
		{"docker, systemd driver", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/docker-" + cid + ".scope", uid, cid, true},
		{"kind (kubelet.slice)", "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope", uid, cid, true},
		{"containerd, cgroupfs driver", "/kubepods/burstable/pod" + uid + "/" + cid, uid, cid, true},
		{"docker, cgroupfs driver, guaranteed", "/kubepods/pod" + uid + "/" + cid, uid, cid, true},
		{"pod cgroup itself (systemd)", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice", uid, "", true},
		{"pod cgroup itself (cgroupfs)", "/kubepods/besteffort/pod" + uid, uid, "", true},
		{"nested under a container", "/kubepods/burstable/pod" + uid + "/" + cid + "/sub", uid, cid, true},
		{"cgroup v1 style with controller prefix", "/sys/fs/cgroup/memory/kubepods/burstable/pod" + uid + "/" + cid, uid, cid, true},
		{"a systemd service", "/system.slice/containerd.service", "", "", false},
		{"the QoS slice", "/kubepods.slice/kubepods-burstable.slice", "", "", false},
		{"user session", "/user.slice/user-0.slice/session-1.scope", "", "", false},
		{"podman container (not a pod)", "/machine.slice/libpod-" + cid + ".scope", "", "", false},
		{"short id is not a container", "/kubepods/burstable/pod" + uid + "/abc", uid, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			pod, ctr, ok := ParseCgroupPath(c.path)
			if pod != c.pod || ctr != c.ctr || ok != c.ok {
				t.Errorf("ParseCgroupPath(%q) = %q, %q, %v; want %q, %q, %v", c.path, pod, ctr, ok, c.pod, c.ctr, c.ok)
			}
		})
	}
}

// TestScanCgroups makes a real cgroup v2 tree as the kubelet lays it out
// (systemd driver) when the test can (root, cgroup v2 mounted), and checks
// that each pod cgroup is found with the id the kernel gives it: the
// directory's inode. Elsewhere it scans a plain directory tree.
func TestScanCgroups(t *testing.T) {
	root := t.TempDir()
	for _, r := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if b, err := os.ReadFile(filepath.Join(r, "cgroup.controllers")); err == nil && b != nil {
			dir, err := os.MkdirTemp(r, "kenrich-scan-")
			if err == nil {
				root = dir
				t.Cleanup(func() { removeCgroupTree(root) })
			}
			break
		}
	}
	t.Logf("scanning %s", root)
	pod := filepath.Join(root, "kubepods.slice", "kubepods-burstable.slice", "kubepods-burstable-pod"+uidU+".slice")
	ctr := filepath.Join(pod, "cri-containerd-"+cid+".scope")
	other := filepath.Join(root, "system.slice", "containerd.service")
	for _, d := range []string{ctr, other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ScanCgroups(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("found %d pod cgroups, want 2 (pod and container): %+v", len(got), got)
	}
	byPath := map[string]CgroupEntry{}
	for _, e := range got {
		byPath[e.Path] = e
	}
	e, ok := byPath["/"+strings.TrimPrefix(strings.TrimPrefix(ctr, root), "/")]
	if !ok || e.PodUID != uid || e.ContainerID != cid {
		t.Fatalf("container cgroup not found right: %+v", got)
	}
	fi, _ := os.Stat(ctr)
	if e.ID == 0 || e.ID != inode(fi) {
		t.Fatalf("id %d, want the directory's inode %d", e.ID, inode(fi))
	}
	if _, err := ScanCgroups(filepath.Join(root, "missing")); err == nil {
		t.Fatal("scanning a missing root gave no error")
	}
}

func removeCgroupTree(root string) {
	// cgroup directories are removed bottom up with rmdir.
	var dirs []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
}
