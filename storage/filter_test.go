package storage

import (
	"errors"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // substring of the message
	}{
		{`protocol=http status>>5`, `filter: term 2 "status>>5": unknown operator`},
		{`status`, `term 1 "status": missing operator`},
		{`colour=red`, `unknown field "colour"`},
		{`=x`, `missing field name`},
		{`status=abc`, `status wants a number`},
		{`status=2.5`, `status wants an integer`},
		{`status~5`, `~ does not apply to status`},
		{`failed=maybe`, `failed wants true or false`},
		{`failed>true`, `> does not apply to failed`},
		{`path>/a`, `> does not apply to path`},
		{`src<=10.0.0.1`, `<= does not apply to src`},
		{`dst=server`, `dst wants an ip or ip:port`},
		{`dst=10.0.0.1:http`, `dst wants an ip or ip:port`},
		{`path=`, `missing value`},
		{`summary~"no end`, `unterminated quote`},
		{`summary="bad\q"`, `bad quoted value`},
		{`elapsed_ms=!5`, `unknown operator`},
		{`method==GET`, `unknown operator`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseFilter(tt.in)
			if !errors.Is(err, ErrBadFilter) {
				t.Fatalf("err = %v, want ErrBadFilter", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestFilterMatch(t *testing.T) {
	r := &sdk.Record{
		Protocol: "HTTP", Method: "GET", Path: "/api/Users/7", Status: 503, Failed: true,
		Src: sdk.Endpoint{IP: "10.0.0.1", Port: 51000}, Dst: sdk.Endpoint{IP: "fd00::0001", Port: 8080},
		Stream: "tcp-17", Summary: "GET /api/Users/7 → 503 Service Unavailable", ElapsedMs: f64(12.5),
	}
	noElapsed := *r
	noElapsed.ElapsedMs = nil
	tests := []struct {
		filter string
		rec    *sdk.Record
		want   bool
	}{
		{``, r, true},
		{`protocol=http`, r, true},
		{`protocol!=http`, r, false},
		{`protocol~tt`, r, true},
		{`method=get`, r, true},
		{`method!=POST`, r, true},
		{`method~E`, r, true},
		{`path=/api/Users/7`, r, true},
		{`path=/api/users/7`, r, false},
		{`path!=/x`, r, true},
		{`path~/API/users`, r, true},
		{`status=503`, r, true},
		{`status!=503`, r, false},
		{`status>500`, r, true},
		{`status>503`, r, false},
		{`status>=503`, r, true},
		{`status<503`, r, false},
		{`status<=503`, r, true},
		{`failed=true`, r, true},
		{`failed!=true`, r, false},
		{`failed=false`, r, false},
		{`failed!=false`, r, true},
		{`src=10.0.0.1`, r, true},
		{`src=10.0.0.1:51000`, r, true},
		{`src=10.0.0.1:51001`, r, false},
		{`src!=10.0.0.2`, r, true},
		{`src~0.0.1:51`, r, true},
		{`dst=fd00::1`, r, true},
		{`dst=[fd00::1]:8080`, r, true},
		{`dst=[fd00::1]:80`, r, false},
		{`dst~FD00`, r, true},
		{`stream=tcp-17`, r, true},
		{`stream~CP`, r, true},
		{`stream!=tcp-17`, r, false},
		{`summary~"service unavailable"`, r, true},
		{`summary="GET /api/Users/7 → 503 Service Unavailable"`, r, true},
		{`summary~"→ 503"`, r, true},
		{`summary~nothing`, r, false},
		{`elapsed_ms=12.5`, r, true},
		{`elapsed_ms!=12.5`, r, false},
		{`elapsed_ms>12`, r, true},
		{`elapsed_ms>=12.5`, r, true},
		{`elapsed_ms<12.5`, r, false},
		{`elapsed_ms<=13`, r, true},
		{`elapsed_ms<100`, &noElapsed, false},
		{`elapsed_ms!=1`, &noElapsed, false},
		{`protocol=http status>=500`, r, true},
		{`path~/api method=GET`, r, true},
		{`failed=true dst=fd00::1 status=404`, r, false},
		{"  protocol=http \t status=503  ", r, true},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(tt.rec); got != tt.want {
				t.Fatalf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}
