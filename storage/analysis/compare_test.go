package analysis

import (
	"context"
	"testing"
)

func TestCompare(t *testing.T) {
	// Window A is [0, 60s), B is [60s, 120s); ten calls per endpoint per
	// window.
	var cs []call
	for half := 0; half < 2; half++ {
		for i := 0; i < 10; i++ {
			at := sec(float64(60*half + 5*i))
			cs = append(cs, call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/steady", ms: 10})
			y := call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/breaking", ms: 10}
			if half == 1 && i%2 == 0 {
				y.status, y.failed = 503, true
			}
			cs = append(cs, y)
			v := call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/slowing", ms: 10}
			if half == 1 {
				v.ms = 40
			}
			cs = append(cs, v)
			if half == 0 {
				cs = append(cs, call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/gone", ms: 10})
			} else {
				cs = append(cs, call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/new", ms: 10})
			}
		}
	}
	st := openStore(t, recs(cs...))
	res, err := Compare(context.Background(), st, CompareQuery{A: win(0, sec(60)), B: win(sec(60), sec(120))})
	if err != nil {
		t.Fatal(err)
	}
	if res.Compared != 5 || res.OnlyA != 1 || res.OnlyB != 1 || len(res.Rows) != 5 {
		t.Fatalf("compared %d (only A %d, only B %d), %d rows", res.Compared, res.OnlyA, res.OnlyB, len(res.Rows))
	}
	rows := map[string]CompareRow{}
	var order []string
	for _, r := range res.Rows {
		rows[r.Path] = r
		order = append(order, r.Path)
	}
	// Scores: /breaking 10·0.5·log10(20) ≈ 6.5; /slowing 2·log2(41/11)·1.3
	// ≈ 4.9; /gone and /new log2(11)·1.3 ≈ 4.5; /steady 0.
	if order[0] != "/breaking" || order[1] != "/slowing" || order[4] != "/steady" {
		t.Errorf("order %v", order)
	}
	b := rows["/breaking"]
	if b.ErrorRateDelta != 0.5 || b.A.ErrorRate != 0 || b.B.Errors != 5 || b.CountDelta != 0 || b.Presence != PresentBoth {
		t.Errorf("/breaking row %+v", b)
	}
	if s := rows["/slowing"]; s.P95DeltaMs != 30 || s.A.P95 != 10 || s.B.P95 != 40 {
		t.Errorf("/slowing row %+v", s)
	}
	if g := rows["/gone"]; g.Presence != OnlyInA || g.CountDelta != -10 || g.B.Count != 0 || g.P95DeltaMs != 0 {
		t.Errorf("/gone row %+v", g)
	}
	if n := rows["/new"]; n.Presence != OnlyInB || n.CountDelta != 10 || n.A.CallsPerMin != 0 || n.B.CallsPerMin != 10 {
		t.Errorf("/new row %+v", n)
	}
	if s := rows["/steady"]; s.Score != 0 {
		t.Errorf("/steady scored %v", s.Score)
	}
	if res.TotalA.Count != 40 || res.TotalB.Count != 40 || res.TotalB.Errors != 5 {
		t.Errorf("totals %+v / %+v", res.TotalA, res.TotalB)
	}

	// Rates are normalised by window length: B twice as long with the
	// same traffic per minute is (nearly: A holds 6 calls, B 10) no
	// change in volume, where raw counts would score |log2(11/7)|·1.34 ≈
	// 0.87.
	res, err = Compare(context.Background(), st, CompareQuery{A: win(0, sec(30)), B: win(0, sec(60)), Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || !res.Truncated {
		t.Fatalf("limit: %d rows, truncated %v", len(res.Rows), res.Truncated)
	}
	for _, r := range res.Rows {
		if r.Score > 0.5 {
			t.Errorf("%s: score %v for the same rate over different lengths", r.Key, r.Score)
		}
	}
}
