package main

import "testing"

func TestPinnedRef(t *testing.T) {
	const d = "sha256:0123"
	for _, tc := range []struct{ ref, want string }{
		{"oci://ghcr.io/acme/myproto:1.2.0", "oci://ghcr.io/acme/myproto@" + d},
		{"oci://127.0.0.1:5000/acme/myproto:1.2.0", "oci://127.0.0.1:5000/acme/myproto@" + d},
		{"oci://127.0.0.1:5000/acme/myproto", "oci://127.0.0.1:5000/acme/myproto@" + d},
		{"oci://127.0.0.1:5000/acme/myproto@sha256:ffff", "oci://127.0.0.1:5000/acme/myproto@" + d},
		{"registry.example.com/myproto:latest", "oci://registry.example.com/myproto@" + d},
	} {
		if got := pinnedRef(tc.ref, d); got != tc.want {
			t.Errorf("pinnedRef(%q) = %q, want %q", tc.ref, got, tc.want)
		}
	}
}
