// Command kubeshark is the CLI: it imports captures through the dissection
// pipeline into the local store and lists what it found.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	setMemoryLimit()
	stopProfiles, err := startProfiles()
	if err == nil {
		err = newRootCmd().ExecuteContext(ctx)
		stopProfiles()
	}
	stop()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "kubeshark:", ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "kubeshark:", err)
		os.Exit(1)
	}
}

// exitError carries an exit code for failures that have already printed
// their details (an import summary before its error, for instance).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
