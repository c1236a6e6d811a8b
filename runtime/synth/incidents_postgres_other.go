//go:build !unix

package synth

import (
	"fmt"
	"os/exec"
)

func runAs(*exec.Cmd, uint32, uint32) error {
	return fmt.Errorf("%w: running PostgreSQL as another user needs a Unix system", ErrMissingTool)
}
