package storage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Holder is the process that holds a store's directory, as recorded in a
// small file beside it (store.holder.json for a store in store/) while the
// store is open. Badger's lock says only that someone holds the store; a
// command that has to wait for it reads this to say who ("kubeshark import
// capture.pcap, pid 4242") instead of guessing.
type Holder struct {
	Command string    `json:"command"`
	PID     int       `json:"pid"`
	Since   time.Time `json:"since"`
}

func holderPath(dir string) string { return filepath.Clean(dir) + ".holder.json" }

// thisProcess describes the running process: its command line, with the
// program's base name.
func thisProcess() Holder {
	args := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	return Holder{Command: strings.Join(args, " "), PID: os.Getpid(), Since: time.Now().UTC()}
}

// writeHolder records this process as the holder of dir.
func writeHolder(dir string) error {
	b, err := json.Marshal(thisProcess())
	if err != nil {
		return err
	}
	tmp := holderPath(dir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, holderPath(dir))
}

// removeHolder removes the record if it names this process.
func removeHolder(dir string) {
	if h, ok := readHolderFile(dir); ok && h.PID == os.Getpid() {
		os.Remove(holderPath(dir))
	}
}

func readHolderFile(dir string) (Holder, bool) {
	b, err := os.ReadFile(holderPath(dir))
	if err != nil {
		return Holder{}, false
	}
	var h Holder
	if json.Unmarshal(b, &h) != nil || h.PID <= 0 {
		return Holder{}, false
	}
	return h, true
}

// ReadHolder returns the process recorded as holding (or about to create)
// the store in dir, if that process is still running; a record left by a
// process that died is ignored.
func ReadHolder(dir string) (Holder, bool) {
	h, ok := readHolderFile(dir)
	if !ok || !alive(h.PID) {
		return Holder{}, false
	}
	return h, true
}

func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || err == syscall.EPERM
}

// AnnounceCreate records this process as the holder of a store that does
// not exist yet, so that a reader started while a first import is still
// getting ready (loading its dissectors) learns that the store is coming
// and from whom, rather than that there is none. It does nothing when the
// store exists or a live holder is recorded. The returned function removes
// the record if it is still this process's.
func AnnounceCreate(dir string) func() {
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		return func() {}
	}
	if _, ok := ReadHolder(dir); ok {
		return func() {}
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o755); err != nil {
		return func() {}
	}
	if writeHolder(dir) != nil {
		return func() {}
	}
	return func() { removeHolder(dir) }
}
