package storage

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func testFlow(i int, start time.Time, dur time.Duration) *sdk.Flow {
	return &sdk.Flow{
		ID: fmt.Sprintf("f%03d", i), Transport: "tcp",
		Client: sdk.Endpoint{IP: "10.0.0.1", Port: uint16(40000 + i)},
		Server: sdk.Endpoint{IP: "10.0.0.2", Port: 80},
		Start:  start, End: start.Add(dur), State: "closed",
	}
}

func TestFlowsPutGetWindowAndPages(t *testing.T) {
	ctx := context.Background()
	s := openMem(t)
	var flows []*sdk.Flow
	for i := 0; i < 10; i++ {
		flows = append(flows, testFlow(i, base.Add(time.Duration(i)*time.Minute), 30*time.Second))
	}
	if err := s.PutFlows(ctx, flows); err != nil {
		t.Fatal(err)
	}
	got, err := s.Flow(ctx, "f003")
	if err != nil {
		t.Fatal(err)
	}
	if got.Client.Port != 40003 || !got.Start.Equal(flows[3].Start) {
		t.Fatalf("Flow(f003) = %+v", got)
	}
	if _, err := s.Flow(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Flow(nope) err = %v, want ErrNotFound", err)
	}

	// A window catches flows active in it, including one that started
	// before Since and was still open.
	page, err := s.Flows(ctx, FlowQuery{Since: base.Add(2*time.Minute + 10*time.Second), Until: base.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range page.Flows {
		ids = append(ids, f.ID)
	}
	if fmt.Sprint(ids) != "[f002 f003 f004]" {
		t.Fatalf("window = %v, want [f002 f003 f004]", ids)
	}

	// Pages of 4 cover all ten once, in start order.
	var all []string
	q := FlowQuery{Limit: 4}
	for {
		p, err := s.Flows(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range p.Flows {
			all = append(all, f.ID)
		}
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if len(all) != 10 || all[0] != "f000" || all[9] != "f009" {
		t.Fatalf("paged = %v", all)
	}
	if _, err := s.Flows(ctx, FlowQuery{Cursor: "garbage"}); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor err = %v", err)
	}

	// Storing a flow again under a later start moves it, leaving one copy.
	moved := testFlow(3, base.Add(time.Hour), time.Second)
	if err := s.PutFlows(ctx, []*sdk.Flow{moved}); err != nil {
		t.Fatal(err)
	}
	_, _, n, err := s.FlowBounds(ctx)
	if err != nil || n != 10 {
		t.Fatalf("FlowBounds count = %d, %v; want 10", n, err)
	}
	got, _ = s.Flow(ctx, "f003")
	if !got.Start.Equal(moved.Start) {
		t.Fatalf("moved flow start = %v", got.Start)
	}

	// Flows that ended before a cutoff go; the rest stay.
	n, err = s.pruneFlows(ctx, base.Add(5*time.Minute))
	if err != nil || n != 4 {
		t.Fatalf("pruneFlows = %d, %v; want 4 (f000, f001, f002 and f004 ended before the cutoff; f003 moved)", n, err)
	}
	if _, err := s.Flow(ctx, "f000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pruned flow still there: %v", err)
	}
}

func TestPutFlowsRejectsFlowWithoutID(t *testing.T) {
	s := openMem(t)
	err := s.PutFlows(context.Background(), []*sdk.Flow{{Transport: "tcp"}})
	if err == nil {
		t.Fatal("flow without id accepted")
	}
}
