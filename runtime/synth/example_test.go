package synth_test

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kubeshark-wasm/kubeshark/runtime/synth"
)

// A cascade capture splits into a baseline and an incident window at the
// failure onset, and each tier's first error follows its dependency's.
func ExampleCascade() {
	start := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	st, err := synth.Cascade(context.Background(), io.Discard, synth.CascadeOptions{Start: start, Checkouts: 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("capture:", st.End.Sub(st.Start), "onset at", st.FailureOnset.Sub(st.Start))
	for _, s := range []synth.ServiceStats{st.Payments, st.Orders, st.Frontend} {
		fmt.Printf("%v %v first 5xx +%v\n", s.Addr, s.Statuses, s.FirstError.Sub(st.FailureOnset).Round(100*time.Microsecond))
	}
	// Output:
	// capture: 20s onset at 10s
	// 10.0.0.30:8080 map[200:10 503:20] first 5xx +291.8ms
	// 10.0.0.20:8080 map[200:10 201:10 502:10] first 5xx +630.2ms
	// 10.0.0.10:8080 map[200:34 500:10] first 5xx +630.5ms
}
