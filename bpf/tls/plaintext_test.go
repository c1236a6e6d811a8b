package tls

import (
	"context"
	"testing"
	"time"
)

// Plaintext holds each event for the window and delivers in stamp order:
// a Write stamped at its entry but returned after the Read of its answer
// comes out first; events with equal stamps keep their arrival order, and
// closing the input flushes what is held.
func TestPlaintextReorders(t *testing.T) {
	base := time.Unix(1000, 0)
	var now time.Time
	clock := make(chan time.Time, 1)
	clock <- base
	nowFn := func() time.Time {
		select {
		case now = <-clock:
		default:
		}
		return now
	}
	in := make(chan Event)
	out := plaintext(context.Background(), in, 40*time.Millisecond, nowFn)
	ev := func(ms int, dir Direction, data string) Event {
		return Event{Time: base.Add(time.Duration(ms) * time.Millisecond), Direction: dir, Data: []byte(data)}
	}
	// Arrival order: the response (returned at 5ms), then the request
	// (entered at 1ms, returned at 30ms), then two at 50ms.
	in <- ev(5, Received, "response")
	in <- ev(1, Sent, "request")
	in <- ev(50, Sent, "a")
	in <- ev(50, Sent, "b")
	// Nothing is older than the window yet.
	select {
	case p := <-out:
		t.Fatalf("%q delivered before the window passed", p.Data)
	case <-time.After(50 * time.Millisecond):
	}
	clock <- base.Add(45 * time.Millisecond) // 1ms and 5ms are now old enough
	for _, want := range []string{"request", "response"} {
		select {
		case p := <-out:
			if string(p.Data) != want {
				t.Fatalf("delivered %q, want %q", p.Data, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%q not delivered once the window passed", want)
		}
	}
	close(in)
	var rest []string
	for p := range out {
		rest = append(rest, string(p.Data))
	}
	if len(rest) != 2 || rest[0] != "a" || rest[1] != "b" {
		t.Fatalf("flushed %q, want a then b", rest)
	}
}
