package main

import (
	"reflect"
	"testing"
)

func TestWrapWords(t *testing.T) {
	for _, tc := range []struct {
		text  string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"one", 10, []string{"one"}},
		{"one two three", 7, []string{"one two", "three"}},
		{"one  two\nthree", 9, []string{"one two", "three"}},
		{"a verylongword b", 5, []string{"a", "verylongword", "b"}},
		{"p50 ≤ 1000 ms", 8, []string{"p50 ≤", "1000 ms"}},
		{"transitively, i.e. what breaks", 20, []string{"transitively, i.e.", "what breaks"}},
	} {
		if got := wrapWords(tc.text, tc.width); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("wrapWords(%q, %d) = %q, want %q", tc.text, tc.width, got, tc.want)
		}
	}
}
