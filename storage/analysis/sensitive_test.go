package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Secrets planted in the records; none may appear whole in a result.
const (
	card       = "4111 1111 1111 1111"
	jwt        = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	apiKey     = "k3y-0123456789abcdef"
	awsKey     = "AKIAIOSFODNN7EXAMPLE"
	awsSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	ghToken    = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
	slackTok   = "xoxb-1234567890-abcdefghijkl"
	pemBody    = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0"
	email      = "jane.doe@example.com"
	password   = "hunter2secret"
	basicCreds = "dXNlcjpwYXNzd29yZA=="
	queryKey   = "abcdef1234567890"
)

func sensitiveRecords() []*sdk.Record {
	return recs(
		call{at: sec(1), src: "10.0.0.9", dst: "10.0.0.1:80", method: "POST", path: "/pay", ms: 1,
			reqBody: `{"card":"` + card + `","bad":"4111111111111112","ts":1717243200000,"order":12345678901234}`},
		call{at: sec(2), src: "10.0.0.9", dst: "10.0.0.1:80", path: "/me", ms: 1,
			reqHeaders: []sdk.Header{{Name: "Authorization", Value: "Bearer " + jwt}, {Name: "X-Api-Key", Value: apiKey}},
			respBody:   `{"email":"` + email + `","avatar":"logo@2x.png","fake":"eyJub3QiOiJqd3QifQ.eyJhIjoxfQ.c2ln"}`},
		call{at: sec(3), src: "10.0.0.9", dst: "10.0.0.1:80", method: "POST", path: "/deploy", ms: 1,
			reqBody: "AWS_ACCESS_KEY_ID=" + awsKey + "\naws_secret_access_key=" + awsSecret + "\nGITHUB_TOKEN=" + ghToken + "\nSLACK=" + slackTok +
				"\n-----BEGIN RSA PRIVATE KEY-----\n" + pemBody + "\n-----END RSA PRIVATE KEY-----\n"},
		call{at: sec(4), src: "10.0.0.9", dst: "10.0.0.1:80", method: "POST", path: "/login?api_key=" + queryKey, ms: 1,
			reqHeaders: []sdk.Header{{Name: "Authorization", Value: "Basic " + basicCreds}},
			reqBody:    `{"user":"jane","password":"` + password + `"}`},
		call{at: sec(5), src: "10.0.0.9", dst: "10.0.0.1:80", path: "/clean", ms: 1, respBody: `{"ok":true,"masked":"********"}`},
	)
}

func TestFindSensitiveData(t *testing.T) {
	st := openStore(t, sensitiveRecords())
	ctx := context.Background()
	res, err := FindSensitiveData(ctx, st, SensitiveQuery{})
	if err != nil {
		t.Fatal(err)
	}
	type found struct{ kind, where, evidence string }
	var got []found
	for _, f := range res.Findings {
		got = append(got, found{f.Kind, f.Where, f.Evidence})
	}
	want := []found{
		{KindCreditCard, "request.body", "4111********1111"},
		{KindJWT, "request.header:Authorization", "eyJhbGciOi…[redacted]"},
		{KindAPIKey, "request.header:X-Api-Key", "k3y-0…[redacted]"},
		{KindEmail, "response.body", "j***@example.com"},
		{KindPrivateKey, "request.body", "-----BEGIN RSA PRIVATE KEY-----…[redacted]"},
		{KindAWSAccessKey, "request.body", "AKIAI…[redacted]"},
		{KindAWSSecretKey, "request.body", "wJalrXUt…[redacted]"},
		{KindGitHubToken, "request.body", "ghp_aBcD…[redacted]"},
		{KindSlackToken, "request.body", "xoxb-12…[redacted]"},
		{KindAPIKey, "path", "abcd…[redacted]"},
		{KindBasicAuth, "request.header:Authorization", "Basic dXNlc…[redacted]"},
		{KindPassword, "request.body", "[redacted, 13 chars]"},
	}
	sortFound := func(s []found) {
		slices.SortStableFunc(s, func(a, b found) int { return strings.Compare(a.kind+a.where, b.kind+b.where) })
	}
	sortFound(got)
	sortFound(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings:\n got %q\nwant %q", got, want)
	}
	if res.RecordsScanned != 5 || res.Truncated {
		t.Errorf("scanned %d, truncated %v", res.RecordsScanned, res.Truncated)
	}
	counts := map[string]KindCount{}
	for _, c := range res.Counts {
		counts[c.Kind] = c
	}
	if c := counts[KindAPIKey]; c.Findings != 2 || c.Records != 2 || c.Distinct != 2 {
		t.Errorf("api_key counts %+v", c)
	}
	if c := counts[KindCreditCard]; c.Findings != 1 {
		t.Errorf("credit cards %+v: the non-Luhn number, the timestamp or the order number counted", c)
	}

	// Redaction never leaks a whole secret, anywhere in the result.
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, s := range []string{card, "4111111111111111", jwt, apiKey, awsKey, awsSecret, ghToken, slackTok, pemBody, email, password, basicCreds, queryKey} {
		if strings.Contains(out, s) {
			t.Errorf("result leaks %q", s)
		}
	}
	for _, f := range res.Findings {
		if f.Kind == KindAPIKey && f.Where == "path" && f.Path != "/login" {
			t.Errorf("finding path %q", f.Path)
		}
	}

	// Kinds restrict the scan; limits keep the counts whole.
	res, err = FindSensitiveData(ctx, st, SensitiveQuery{Kinds: []string{KindCreditCard, KindEmail}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Kind != KindCreditCard || !res.Truncated || len(res.Counts) != 2 {
		t.Errorf("kinds filter: %+v", res)
	}
	if _, err := FindSensitiveData(ctx, st, SensitiveQuery{Kinds: []string{"ssn"}}); !errors.Is(err, ErrBadQuery) {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestCardChecks(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"4111111111111111", true},     // Visa test number
		{"4111 1111 1111 1111", true},  // spaced
		{"4111-1111-1111-1111", true},  // dashed
		{"4111111111111112", false},    // fails Luhn
		{"4111-1111 1111-1111", false}, // mixed separators
		{"5555555555554444", true},     // Mastercard
		{"2223003122003222", true},     // Mastercard 2-series
		{"378282246310005", true},      // American Express
		{"6011111111111117", true},     // Discover
		{"3530111333300000", true},     // JCB
		{"1717243200000", false},       // a millisecond timestamp, no brand
		{"9999999999999995", false},    // Luhn-valid, no brand
		{"411111111111", false},        // too short
	}
	for _, tt := range tests {
		if got := validCard(tt.s); got != tt.want {
			t.Errorf("validCard(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
	if !luhn("9999999999999995") || luhn("9999999999999999") {
		t.Error("luhn checksum wrong")
	}
}

func TestFinders(t *testing.T) {
	spans := func(s string, f func(string) [][2]int) []string {
		var out []string
		for _, sp := range f(s) {
			out = append(out, s[sp[0]:sp[1]])
		}
		return out
	}
	emails := []struct {
		s    string
		want []string
	}{
		{"to: first.last+tag@sub.example.org, cc a@b.co.", []string{"first.last+tag@sub.example.org", "a@b.co"}},
		{"user@localhost and @example.com and x@y..com", nil},
		{"logo@2x.png", []string{"logo@2x.png"}}, // found here, rejected by validEmail
	}
	for _, tt := range emails {
		if got := spans(tt.s, findEmails); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("findEmails(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
	cards := []struct {
		s    string
		want []string
	}{
		{"n=4111111111111111; m=4111 1111 1111 1111 end", []string{"4111111111111111", "4111 1111 1111 1111"}},
		{"0.4111111111111111 x41111111111111111 41111111111111111111111 411111111111", nil},
	}
	for _, tt := range cards {
		if got := spans(tt.s, findCards); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("findCards(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
}
