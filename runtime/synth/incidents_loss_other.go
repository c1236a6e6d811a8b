//go:build !linux

package synth

import (
	"context"
	"fmt"
)

// runPacketLoss needs Linux network namespaces and netem.
func runPacketLoss(context.Context, *stage) (GroundTruth, error) {
	return GroundTruth{}, fmt.Errorf("%w: packet-loss needs Linux network namespaces and netem", ErrNeedsRoot)
}
