package mcp

import (
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// The kernel's own counts (live capture) add findings the packets cannot
// give: retransmissions lost before the capture point, resets not seen.
func TestFlowInsightsKernel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      sdk.Flow
		want   string
		absent bool
	}{
		{"kernel retransmits beyond the packets", sdk.Flow{State: "closed", ServerToClient: sdk.FlowDirection{Retransmissions: 2},
			Kernel: &sdk.KernelFlow{Retransmits: 7}}, "retransmitted 7 segments on this connection, 5 more", false},
		{"the same count: nothing new", sdk.Flow{State: "closed", ServerToClient: sdk.FlowDirection{Retransmissions: 2},
			Kernel: &sdk.KernelFlow{Retransmits: 2}}, "the kernel retransmitted", true},
		{"resets the packets do not show", sdk.Flow{State: "closed", Kernel: &sdk.KernelFlow{ResetsSent: 1}},
			"1 resets sent and 0 received", false},
		{"no kernel section (an import)", sdk.Flow{State: "closed"}, "kernel", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var all []string
			for _, in := range flowInsights(&tc.f) {
				all = append(all, in.Finding)
			}
			got := strings.Contains(strings.Join(all, "\n"), tc.want)
			if got == tc.absent {
				t.Errorf("findings %q: %q present %v, want %v", all, tc.want, got, !tc.absent)
			}
		})
	}
}
