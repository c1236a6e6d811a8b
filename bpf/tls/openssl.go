package tls

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// fileID is a file's identity: a uprobe applies to an inode, whatever path
// or mount namespace it is reached by.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, err
	}
	return fileID{uint64(st.Dev), st.Ino}, nil
}

// libsslName matches OpenSSL's libssl (libssl.so.3, libssl.so.1.1), not
// NSS's libssl3.so.
var libsslName = regexp.MustCompile(`^libssl\.so(\.[0-9]+)*$`)

// systemLibssl lists the libssl files in the usual library directories, so
// that a process started later with them is traced from its first call.
func systemLibssl() []string {
	var out []string
	for _, pat := range []string{"/usr/lib/*/libssl.so*", "/lib/*/libssl.so*", "/usr/lib64/libssl.so*", "/usr/lib/libssl.so*", "/usr/local/lib*/libssl.so*"} {
		m, _ := filepath.Glob(pat)
		for _, p := range m {
			if libsslName.MatchString(filepath.Base(p)) {
				out = append(out, p)
			}
		}
	}
	return out
}

// scanMaps hooks the libssl files a process maps, reached through its root
// so that a container's own libssl is found.
func (t *Tracer) scanMaps(pid uint32) {
	if t.cfg.NoOpenSSL {
		return
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, '/')
		if i < 0 {
			continue
		}
		path := line[i:]
		if seen[path] || !libsslName.MatchString(filepath.Base(path)) {
			continue
		}
		seen[path] = true
		if t.hookLibssl(fmt.Sprintf("/proc/%d/root%s", pid, path)) {
			t.mu.Lock()
			t.procs[pid] = true
			t.mu.Unlock()
		}
	}
}

// sslFuncs are the hooked functions with their entry and return programs.
func (t *Tracer) sslFuncs() []struct {
	sym         string
	enter, exit *ebpf.Program
} {
	return []struct {
		sym         string
		enter, exit *ebpf.Program
	}{
		{"SSL_read", t.objs.SslReadEnter, t.objs.SslReadExit},
		{"SSL_write", t.objs.SslWriteEnter, t.objs.SslWriteExit},
		{"SSL_read_ex", t.objs.SslReadExEnter, t.objs.SslReadExExit},
		{"SSL_write_ex", t.objs.SslWriteExEnter, t.objs.SslWriteExExit},
	}
}

// hookLibssl attaches the OpenSSL probes to a libssl file once per inode
// (a uprobe on a file applies to every process that maps it). It reports
// whether the file is hooked.
func (t *Tracer) hookLibssl(path string) bool {
	id, err := statID(path)
	if err != nil {
		return false
	}
	t.mu.Lock()
	_, done := t.hooked[id]
	bad := t.failed[id]
	t.mu.Unlock()
	if done || bad {
		return done
	}
	links, err := t.attachLibssl(path)
	if err != nil {
		t.mu.Lock()
		t.failed[id] = true
		t.mu.Unlock()
		t.addError(displayPath(path), err)
		return false
	}
	t.mu.Lock()
	t.hooked[id] = path
	t.libs = append(t.libs, displayPath(path))
	t.links = append(t.links, links...)
	t.mu.Unlock()
	t.log.Info("tls: hooked libssl", "path", path)
	return true
}

func (t *Tracer) attachLibssl(path string) ([]link.Link, error) {
	ex, err := link.OpenExecutable(path)
	if err != nil {
		return nil, err
	}
	var links []link.Link
	for _, f := range t.sslFuncs() {
		enter, err := ex.Uprobe(f.sym, f.enter, nil)
		if errors.Is(err, link.ErrNoSymbol) && strings.HasSuffix(f.sym, "_ex") {
			continue // OpenSSL before 1.1.1
		}
		if err != nil {
			closeAll(links)
			return nil, fmt.Errorf("uprobe on %s: %w", f.sym, err)
		}
		links = append(links, enter)
		exit, err := ex.Uretprobe(f.sym, f.exit, nil)
		if err != nil {
			closeAll(links)
			return nil, fmt.Errorf("uretprobe on %s: %w", f.sym, err)
		}
		links = append(links, exit)
	}
	if len(links) == 0 {
		return nil, errors.New("no SSL_read or SSL_write symbol")
	}
	return links, nil
}

func closeAll(ls []link.Link) {
	for _, l := range ls {
		l.Close()
	}
}

// displayPath drops the /proc/PID/root prefix of a path seen from the host
// when the process shares the host's root.
func displayPath(p string) string {
	if !strings.HasPrefix(p, "/proc/") {
		return p
	}
	rest := strings.TrimPrefix(p, "/proc/")
	i := strings.Index(rest, "/root/")
	if i < 0 {
		return p
	}
	inner := rest[i+len("/root"):]
	a, errA := statID(p)
	b, errB := statID(inner)
	if errA == nil && errB == nil && a == b {
		return inner
	}
	return p
}
