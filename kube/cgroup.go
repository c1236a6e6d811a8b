package kube

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// podUIDPattern finds a pod UID in a cgroup path: "pod" then the UID with
// dashes (cgroupfs driver) or underscores (systemd driver, which cannot
// have dashes inside a unit name's component).
var podUIDPattern = regexp.MustCompile(`pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?:/|$)`)

// containerPrefixes are the unit name prefixes runtimes give a container's
// scope under the systemd driver.
var containerPrefixes = []string{"cri-containerd-", "crio-", "docker-", "containerd-"}

// ParseCgroupPath returns the pod UID and container id a cgroup path (as
// under /sys/fs/cgroup) belongs to. A pod's own cgroup gives the UID and no
// container; a path outside any pod gives ok false. CRI-O's conmon scope
// belongs to the pod but to no container.
func ParseCgroupPath(p string) (podUID, containerID string, ok bool) {
	m := podUIDPattern.FindStringSubmatchIndex(p)
	if m == nil {
		return "", "", false
	}
	podUID = strings.ReplaceAll(p[m[2]:m[3]], "_", "-")
	rest := strings.Trim(p[m[1]:], "/")
	if rest == "" {
		return podUID, "", true
	}
	// The container is the component right under the pod.
	c, _, _ := strings.Cut(rest, "/")
	c = strings.TrimSuffix(c, ".scope")
	if strings.HasPrefix(c, "crio-conmon-") {
		return podUID, "", true
	}
	for _, pre := range containerPrefixes {
		if strings.HasPrefix(c, pre) {
			c = c[len(pre):]
			break
		}
	}
	if !isContainerID(c) {
		return podUID, "", true
	}
	return podUID, c, true
}

func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// CgroupEntry is one cgroup of a pod found on this machine. ID is the
// cgroup v2 id the kernel reports for a socket (bpf_skb_cgroup_id,
// bpf_get_current_cgroup_id): the inode number of its directory.
type CgroupEntry struct {
	ID          uint64
	Path        string
	PodUID      string
	ContainerID string
}

// ScanCgroups walks a cgroup v2 hierarchy (/sys/fs/cgroup, or the unified
// mount) and returns the cgroups that belong to pods.
func ScanCgroups(root string) ([]CgroupEntry, error) {
	var out []CgroupEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil // a cgroup removed while walking
		}
		if !d.IsDir() {
			return nil
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		uid, cid, ok := ParseCgroupPath(rel)
		if !ok {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if ino := inode(info); ino != 0 {
			out = append(out, CgroupEntry{ID: ino, Path: rel, PodUID: uid, ContainerID: cid})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kube: scanning cgroups under %s: %w", root, err)
	}
	return out, nil
}

// ObserveCgroups records the pods' cgroups found by a scan at time at;
// cgroups of a pod that are gone end at at. Only pods present in the scan
// or already known are touched.
func (h *History) ObserveCgroups(ctx context.Context, entries []CgroupEntry, at time.Time) error {
	byPod := map[string]map[string]*Binding{}
	for _, e := range entries {
		if byPod[e.PodUID] == nil {
			byPod[e.PodUID] = map[string]*Binding{}
		}
		byPod[e.PodUID][strconv.FormatUint(e.ID, 10)] = &Binding{Container: e.ContainerID}
	}
	h.mu.RLock()
	for ku := range h.open {
		if uid, ok := strings.CutPrefix(ku, KindCgroup+"/"); ok {
			if _, seen := byPod[uid]; !seen {
				byPod[uid] = nil
			}
		}
	}
	h.mu.RUnlock()
	for uid, want := range byPod {
		if err := h.Observe(ctx, KindCgroup, uid, want, at, at); err != nil {
			return err
		}
	}
	return nil
}

func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
