package pktfilter

import (
	"fmt"
	"testing"
)

func TestPortRanges(t *testing.T) {
	tests := []struct {
		expr string
		want string // fmt of the ranges, or "all" when not restricted
	}{
		{"tcp port 80", "[[80 80]]"},
		{"port 80 or port 443", "[[80 80] [443 443]]"},
		{"tcp port 80 or 443", "[[80 80] [443 443]]"},
		{"src port 53", "[[53 53]]"},
		{"portrange 8000-8080", "[[8000 8080]]"},
		{"host 10.0.0.1 and tcp port 6379", "[[6379 6379]]"},
		{"portrange 1-1000 and port 80", "[[80 80]]"},
		{"host 10.0.0.1", "all"},
		{"host 10.0.0.1 or tcp port 80", "all"},
		{"not port 22", "all"},
		{"tcp", "all"},
		{"", "all"},
	}
	for _, tt := range tests {
		f, err := Compile(tt.expr)
		if err != nil {
			t.Fatalf("%q: %v", tt.expr, err)
		}
		r, ok := f.PortRanges()
		got := "all"
		if ok {
			got = fmt.Sprint(r)
		}
		if got != tt.want {
			t.Errorf("PortRanges(%q) = %s, want %s", tt.expr, got, tt.want)
		}
	}
}
