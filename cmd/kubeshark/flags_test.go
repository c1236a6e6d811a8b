package main

import (
	"strings"
	"testing"
	"time"
)

func TestSizeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{"1000", 1000, ""},
		{"0", 0, ""},
		{"1GB", 1_000_000_000, ""},
		{"1GiB", 1 << 30, ""},
		{"500MiB", 500 << 20, ""},
		{"1.5 GiB", 3 << 29, ""},
		{"64k", 64_000, ""},
		{"-1", 0, "cannot be negative"},
		{"-1GB", 0, "cannot be negative"},
		{"lots", 0, "not a size"},
		{"1GBB", 0, "not a size"},
		{"99999999999EiB", 0, "not a size"},
	} {
		var n int64 = -7
		err := newSizeFlag(&n, -7).Set(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || n != -7 {
				t.Errorf("%q: got %d, %v; want an error containing %q", tc.in, n, err, tc.err)
			}
			continue
		}
		if err != nil || n != tc.want {
			t.Errorf("%q: got %d, %v; want %d", tc.in, n, err, tc.want)
		}
	}
	var n int64
	if s := newSizeFlag(&n, 1<<30).String(); s != "1.0GiB" {
		t.Errorf("default shown as %q", s)
	}
}

func TestAgeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"0", 0, ""},
		{"1h", time.Hour, ""},
		{"7d", 7 * 24 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"-1h", 0, "cannot be negative"},
		{"soon", 0, "not a duration"},
	} {
		d := time.Duration(-7)
		err := (&ageFlag{&d}).Set(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, %v; want an error containing %q", tc.in, d, err, tc.err)
			}
			continue
		}
		if err != nil || d != tc.want {
			t.Errorf("%q: got %v, %v; want %v", tc.in, d, err, tc.want)
		}
	}
}
