package main

import (
	"strings"
	"testing"
)

func TestSudoNote(t *testing.T) {
	const root = "/root/.kubeshark/data"
	for _, tc := range []struct {
		name     string
		sudoUser string
		fromEnv  bool
		dataDir  string
		want     string // a part of the note; "" for none
	}{
		{"sudo, default data directory", "alice", false, root, "sudo kubeshark calls"},
		{"not under sudo", "", false, root, ""},
		{"sudo -u root from root", "root", false, root, ""},
		{"--data given", "alice", false, "/srv/kubeshark", ""},
		{"KUBESHARK_DATA kept by sudo -E", "alice", true, root, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sudoNote(tc.sudoUser, tc.fromEnv, tc.dataDir, root)
			if tc.want == "" && got != "" || tc.want != "" && (!strings.Contains(got, tc.want) || !strings.Contains(got, root) || !strings.Contains(got, tc.sudoUser)) {
				t.Errorf("sudoNote = %q, want one with %q", got, tc.want)
			}
		})
	}
}
