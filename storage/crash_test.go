package storage

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv names the store directory for the child half of
// TestCrashKeepsCommittedRecords.
const crashChildEnv = "STORAGE_CRASH_CHILD_DIR"

// TestCrashKeepsCommittedRecords runs an import in a child process, kills it
// with SIGKILL mid-stream and checks that every batch whose Put returned is
// still there and readable.
func TestCrashKeepsCommittedRecords(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsCommittedRecords$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	last, lines := 0, 0
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(3 * time.Second)
	// Enough batches to fill at least one memtable on a fast machine, so
	// both replayed write-ahead logs and flushed tables are exercised; a
	// time limit keeps slow (race) runs short.
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "committed ")
		if !ok {
			continue
		}
		if last, err = strconv.Atoi(n); err != nil {
			t.Fatal(err)
		}
		if lines++; lines >= 60 || lines >= 3 && time.Now().After(deadline) {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if lines == 0 {
		t.Fatal("the child committed nothing")
	}

	ctx := context.Background()
	s := openDir(t, dir, Options{})
	defer s.Close()
	n, err := s.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("child reported %d committed records; %d survived SIGKILL", last, n)
	if n < last {
		t.Fatalf("store holds %d records, but %d were committed", n, last)
	}
	if n%1000 != 0 {
		t.Logf("a batch was partly written at the kill (%d records); each record is whole", n)
	}
	p, err := s.Query(ctx, Query{WithBodies: true})
	if err != nil {
		t.Fatalf("records do not decode after the crash: %v", err)
	}
	if len(p.Records) != n {
		t.Fatalf("query returned %d of %d records", len(p.Records), n)
	}
	for i, r := range p.Records {
		if r.Response == nil || r.Response.Body == "" || r.Protocol == "" {
			t.Fatalf("record %d (%s) came back incomplete", i, r.ID)
		}
	}
}

// crashChild imports forever, reporting each committed batch on stdout,
// until the parent kills it.
func crashChild(dir string) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; ; i += 1000 {
		if err := s.Put(ctx, synthN(i, 1000)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		// os.Stdout is unbuffered: the line is out before the next Put.
		fmt.Printf("committed %d\n", i+1000)
	}
}
