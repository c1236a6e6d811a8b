package analysis

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

// Kinds of sensitive data FindSensitiveData recognises.
const (
	KindCreditCard   = "credit_card"    // 13–19 digits of a known card brand passing the Luhn check
	KindAWSAccessKey = "aws_access_key" // AKIA…/ASIA… key ids
	KindAWSSecretKey = "aws_secret_key" // 40-character secret next to an aws…secret…key name
	KindGitHubToken  = "github_token"   // ghp_/gho_/ghu_/ghs_/ghr_ and github_pat_ tokens
	KindSlackToken   = "slack_token"    // xox?- tokens and hooks.slack.com webhook URLs
	KindAPIKey       = "api_key"        // credential headers (Authorization bearer, X-Api-Key, ...), api_key= parameters, Google and Stripe keys
	KindBasicAuth    = "basic_auth"     // Authorization: Basic and user:password@ in URLs
	KindJWT          = "jwt"            // three base64url parts whose header is JSON with "alg"
	KindPrivateKey   = "private_key"    // PEM private key blocks
	KindEmail        = "email"          // email addresses
	KindPassword     = "password"       // "password": "…" in JSON and password=… in forms and URLs
)

// SensitiveKinds lists every kind, in the order findings of one text are
// claimed: a span taken by an earlier kind is not reported again by a
// later one (a JWT in an Authorization header is a jwt, not an api_key).
func SensitiveKinds() []string {
	return []string{KindPrivateKey, KindJWT, KindAWSAccessKey, KindAWSSecretKey, KindGitHubToken, KindSlackToken,
		KindBasicAuth, KindPassword, KindAPIKey, KindCreditCard, KindEmail}
}

// Bounds for FindSensitiveData.
const (
	DefaultSensitiveLimit = 50
	MaxSensitiveLimit     = 1000
	// maxDistinct caps the distinct values remembered per scan; beyond it
	// KindCount.Distinct is a lower bound.
	maxDistinct = 100000
	redactedTag = "…[redacted]"
)

// SensitiveQuery selects what FindSensitiveData looks for.
type SensitiveQuery struct {
	Window Window
	Match  storage.Matcher
	// Kinds restricts the search; empty means all of SensitiveKinds.
	Kinds []string
	// Limit is how many findings to list, oldest first: 0 means
	// DefaultSensitiveLimit; at most MaxSensitiveLimit. Counts cover all.
	Limit int
}

// Finding is one piece of sensitive data in one record.
type Finding struct {
	Kind      string    `json:"kind"`
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	Protocol  string    `json:"protocol"`
	Method    string    `json:"method,omitempty"`
	// Path is the templated path (query string dropped), with any secret
	// found in the record blanked out.
	Path   string `json:"path,omitempty"`
	Server string `json:"server"`
	Client string `json:"client"`
	// Where is "path", "request.body", "response.body",
	// "request.header:<Name>" or "response.header:<Name>".
	Where string `json:"where"`
	// Evidence is the value redacted: enough to recognise it
	// (4111********1111, AKIAI…[redacted], a***@example.com), never the
	// whole secret.
	Evidence string `json:"evidence"`
}

// KindCount totals one kind over the whole window.
type KindCount struct {
	Kind string `json:"kind"`
	// Findings counts occurrences (one per value per place per record).
	Findings int `json:"findings"`
	Records  int `json:"records"`
	// Distinct counts different values.
	Distinct int `json:"distinct_values"`
}

// SensitiveResult is what FindSensitiveData returns.
type SensitiveResult struct {
	Window         Window      `json:"window"`
	Kinds          []string    `json:"kinds"`
	Findings       []Finding   `json:"findings"`
	Counts         []KindCount `json:"counts"`
	RecordsScanned int         `json:"records_scanned"`
	// Truncated says that more findings exist than are listed.
	Truncated bool   `json:"truncated"`
	Summary   string `json:"summary"`
}

// hit is a secret found in a text: where it is and how to show it.
type hit struct {
	kind       string
	start, end int
	secret     string
	evidence   string
}

// rule finds one kind in a text.
type rule struct {
	kind string
	// re finds candidates, or find does where a scan by hand is much
	// faster than Go's regexp (cards, emails: common characters around a
	// rare anchor).
	re    *regexp.Regexp
	find  func(string) [][2]int
	group int // submatch holding the secret; 0 for the whole match
	// need lists the features of which the text must have one for the
	// rule to run: a one-pass prefilter, since most texts hold no secret
	// and Go's regular expressions cost far more than a byte scan.
	need  feature
	valid func(string) bool
	show  func(string) string
	// bounded requires the match not to touch a letter or digit on either
	// side, so a key is not found inside a longer token.
	bounded bool
}

var (
	reJWT        = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)
	reAWSKey     = regexp.MustCompile(`(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}`)
	reAWSSecret  = regexp.MustCompile(`(?i)aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})`)
	reGitHub     = regexp.MustCompile(`gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255}`)
	reSlack      = regexp.MustCompile(`xox[abposr]-[A-Za-z0-9-]{10,250}|https://hooks\.slack\.com/services/[A-Za-z0-9_/-]{20,200}`)
	reURLCreds   = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]{1,15}://([^/\s:@"'<>]{1,100}:[^/\s@"'<>]{1,100})@`)
	rePassJSON   = regexp.MustCompile(`(?i)"(?:password|passwd|pwd|passphrase|client_secret|secret)"\s*:\s*"([^"\\]{1,200})"`)
	rePassForm   = regexp.MustCompile(`(?i)(?:^|[?&;\s])(?:password|passwd|pwd)=([^&\s#;]{1,200})`)
	reKeyPattern = regexp.MustCompile(`AIza[0-9A-Za-z_-]{35}|[rs]k_live_[0-9A-Za-z]{20,99}`)
	reKeyParam   = regexp.MustCompile(`(?i)(?:^|[?&;])(?:api[_-]?key|apikey|access[_-]?token|auth[_-]?token|token|key)=([^&\s#;]{8,512})`)
)

// rules in claiming order (see SensitiveKinds). Private keys are found
// by code, not a rule, because a key block is too long for a bounded
// repetition.
func rules() []rule {
	return []rule{
		{kind: KindJWT, re: reJWT, need: fJWT, valid: validJWT, show: func(s string) string { return prefix(s, 10) + redactedTag }},
		{kind: KindAWSAccessKey, re: reAWSKey, bounded: true, need: fAWS, show: showToken},
		{kind: KindAWSSecretKey, re: reAWSSecret, group: 1, need: fSecret, show: showToken},
		{kind: KindGitHubToken, re: reGitHub, bounded: true, need: fGitHub, show: showToken},
		{kind: KindSlackToken, re: reSlack, need: fSlack, show: showSlack},
		{kind: KindBasicAuth, re: reURLCreds, group: 1, need: fURL, show: showUserPass},
		{kind: KindPassword, re: rePassJSON, group: 1, need: fPass | fSecret, valid: notPlaceholder, show: showLength},
		{kind: KindPassword, re: rePassForm, group: 1, need: fPass, valid: notPlaceholder, show: showLength},
		{kind: KindAPIKey, re: reKeyPattern, bounded: true, need: fKeyPattern, show: showToken},
		{kind: KindAPIKey, re: reKeyParam, group: 1, need: fEquals, valid: notPlaceholder, show: showToken},
		{kind: KindCreditCard, find: findCards, bounded: true, need: fDigits, valid: validCard, show: showCard},
		{kind: KindEmail, find: findEmails, bounded: true, need: fAt, valid: validEmail, show: showEmail},
	}
}

// feature is a set of cheap signs that a text may hold some kind of
// secret.
type feature uint16

const (
	fJWT        feature = 1 << iota // "eyJ": base64 of `{"`
	fAWS                            // A??A with two capitals between: every AWS key id prefix (AKIA, ASIA, ...)
	fSecret                         // "secret", in any case
	fGitHub                         // "gh?_" or "github_pat_"
	fSlack                          // "xox" or "hooks.slack.com"
	fURL                            // "://"
	fPass                           // "pass" or "pwd", in any case
	fKeyPattern                     // "AIza" or "_live_"
	fEquals                         // '='
	fDigits                         // 13 or more digits
	fAt                             // '@'
	fPEM                            // "-----BEGIN "
)

// features scans s once for the signs the rules need.
func features(s string) feature {
	var f feature
	digits := 0
	at := func(i int, p string) bool { return strings.HasPrefix(s[i:], p) }
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '=':
			f |= fEquals
		case '@':
			f |= fAt
		case ':':
			if at(i, "://") {
				f |= fURL
			}
		case '-':
			if at(i, "-----BEGIN ") {
				f |= fPEM
			}
		case 'e':
			if at(i, "eyJ") {
				f |= fJWT
			}
		case 'A':
			if i+3 < len(s) && s[i+3] == 'A' && isUpper(s[i+1]) && isUpper(s[i+2]) {
				f |= fAWS
			}
			if at(i, "AIza") {
				f |= fKeyPattern
			}
		case 'g':
			if i+3 < len(s) && s[i+1] == 'h' && s[i+3] == '_' || at(i, "github_pat_") {
				f |= fGitHub
			}
		case 'x':
			if at(i, "xox") {
				f |= fSlack
			}
		case 'h':
			if at(i, "hooks.slack.com") {
				f |= fSlack
			}
		case '_':
			if at(i, "_live_") {
				f |= fKeyPattern
			}
		case 's', 'S':
			if foldAt(s, i, "secret") {
				f |= fSecret
			}
		case 'p', 'P':
			if foldAt(s, i, "pass") || foldAt(s, i, "pwd") {
				f |= fPass
			}
		default:
			if c >= '0' && c <= '9' {
				digits++
			}
		}
	}
	if digits >= 13 {
		f |= fDigits
	}
	return f
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// foldAt reports whether s continues at i with word (lower-case ASCII),
// ignoring case.
func foldAt(s string, i int, word string) bool {
	if len(s)-i < len(word) {
		return false
	}
	for j := 0; j < len(word); j++ {
		if s[i+j]|0x20 != word[j] {
			return false
		}
	}
	return true
}

// scanner finds secrets of the wanted kinds.
type scanner struct {
	want  map[string]bool
	rules []rule
}

func newScanner(kinds []string) (*scanner, error) {
	all := SensitiveKinds()
	s := &scanner{want: map[string]bool{}}
	for _, k := range kinds {
		if !slices.Contains(all, k) {
			return nil, fmt.Errorf("%w: unknown sensitive data kind %q (want %s)", ErrBadQuery, k, strings.Join(all, ", "))
		}
		s.want[k] = true
	}
	if len(kinds) == 0 {
		for _, k := range all {
			s.want[k] = true
		}
	}
	for _, r := range rules() {
		if s.want[r.kind] {
			s.rules = append(s.rules, r)
		}
	}
	return s, nil
}

// text finds the secrets in s, each span claimed by the first rule that
// matches it.
func (sc *scanner) text(s string) []hit {
	var hits []hit
	taken := func(a, b int) bool {
		for _, h := range hits {
			if a < h.end && h.start < b {
				return true
			}
		}
		return false
	}
	f := features(s)
	if f == 0 {
		return nil
	}
	if sc.want[KindPrivateKey] && f&fPEM != 0 {
		hits = append(hits, privateKeys(s)...)
	}
	for i := range sc.rules {
		r := &sc.rules[i]
		if f&r.need == 0 {
			continue
		}
		var spans [][2]int
		if r.find != nil {
			spans = r.find(s)
		} else {
			for _, m := range r.re.FindAllStringSubmatchIndex(s, -1) {
				spans = append(spans, [2]int{m[2*r.group], m[2*r.group+1]})
			}
		}
		for _, sp := range spans {
			a, b := sp[0], sp[1]
			if a < 0 || taken(a, b) {
				continue
			}
			if r.bounded && (a > 0 && isAlnum(s[a-1]) || b < len(s) && isAlnum(s[b])) {
				continue
			}
			v := s[a:b]
			if r.valid != nil && !r.valid(v) {
				continue
			}
			hits = append(hits, hit{kind: r.kind, start: a, end: b, secret: v, evidence: r.show(v)})
		}
	}
	return hits
}

// credentialHeaders carry a credential in their whole value.
var credentialHeaders = []string{
	"authorization", "proxy-authorization", "x-api-key", "api-key", "apikey", "x-apikey", "x-auth-token",
	"x-access-token", "x-api-token", "private-token", "x-goog-api-key", "ocp-apim-subscription-key", "x-amz-security-token",
}

// header finds the secrets in one header: those in its value, and, for a
// credential header whose value holds no recognised secret, the value
// itself (a Basic pair or an opaque key).
func (sc *scanner) header(h sdk.Header) []hit {
	hits := sc.text(h.Value)
	if len(hits) > 0 || !slices.ContainsFunc(credentialHeaders, func(n string) bool { return strings.EqualFold(n, h.Name) }) {
		return hits
	}
	v := strings.TrimSpace(h.Value)
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok || strings.ContainsAny(scheme, "=,") {
		scheme, cred = "", v
	}
	cred = strings.TrimSpace(cred)
	if cred == "" || !notPlaceholder(cred) {
		return nil
	}
	start := strings.Index(h.Value, cred)
	kind, lead := KindAPIKey, ""
	if scheme != "" {
		lead = scheme + " "
	}
	if strings.EqualFold(scheme, "basic") {
		kind = KindBasicAuth
	}
	if !sc.want[kind] {
		return nil
	}
	return []hit{{kind: kind, start: start, end: start + len(cred), secret: cred, evidence: lead + showToken(cred)}}
}

// privateKeys finds PEM private key blocks; the secret is the block up to
// its END line (or the end of the text when cut).
func privateKeys(s string) []hit {
	var out []hit
	for off := 0; ; {
		i := strings.Index(s[off:], "-----BEGIN ")
		if i < 0 {
			return out
		}
		a := off + i
		eol := strings.Index(s[a+11:], "-----")
		if eol < 0 {
			return out
		}
		label := s[a+11 : a+11+eol]
		headEnd := a + 11 + eol + 5
		off = headEnd
		if !strings.HasSuffix(label, "PRIVATE KEY") || len(label) > 40 {
			continue
		}
		b := len(s)
		if j := strings.Index(s[headEnd:], "-----END "+label+"-----"); j >= 0 {
			b = headEnd + j + len("-----END "+label+"-----")
		}
		out = append(out, hit{kind: KindPrivateKey, start: a, end: b, secret: s[a:b], evidence: s[a:headEnd] + redactedTag})
		off = b
	}
}

// validJWT checks that the first part decodes to a JSON object with "alg".
func validJWT(s string) bool {
	head, _, _ := strings.Cut(s, ".")
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(head, "="))
	if err != nil {
		return false
	}
	var h map[string]any
	if json.Unmarshal(raw, &h) != nil {
		return false
	}
	_, ok := h["alg"]
	return ok
}

// validCard accepts 13 to 19 digits, separated consistently or not at all,
// that start like a known card brand and pass the Luhn check. The brand
// test rejects most of what Luhn alone lets through (one in ten random
// numbers): millisecond timestamps, order numbers, phone numbers.
func validCard(s string) bool {
	var d []byte
	var sep byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			d = append(d, c)
			continue
		}
		if sep != 0 && c != sep {
			return false
		}
		sep = c
	}
	return len(d) >= 13 && len(d) <= 19 && cardBrand(string(d)) && luhn(string(d))
}

// cardBrand reports whether the digits start and measure like a Visa,
// Mastercard, American Express, Discover, JCB, Diners Club or UnionPay
// card.
func cardBrand(d string) bool {
	n := len(d)
	p := func(k int) int {
		v := 0
		for i := 0; i < k && i < n; i++ {
			v = v*10 + int(d[i]-'0')
		}
		return v
	}
	switch {
	case d[0] == '4':
		return n == 13 || n == 16 || n == 19
	case p(2) >= 51 && p(2) <= 55, p(4) >= 2221 && p(4) <= 2720:
		return n == 16
	case p(2) == 34 || p(2) == 37:
		return n == 15
	case p(4) == 6011, p(2) == 65, p(3) >= 644 && p(3) <= 649:
		return n >= 16 && n <= 19
	case p(4) >= 3528 && p(4) <= 3589:
		return n >= 16 && n <= 19
	case p(2) == 36, p(2) == 38, p(3) >= 300 && p(3) <= 305:
		return n >= 14 && n <= 19
	case p(2) == 62:
		return n >= 16 && n <= 19
	}
	return false
}

// luhn checks the Luhn (mod 10) checksum of a digit string.
func luhn(d string) bool {
	sum := 0
	for i := 0; i < len(d); i++ {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// fileExtensions are "top-level domains" that are really file names
// (logo@2x.png), not email addresses.
var fileExtensions = []string{"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "css", "js", "json", "html", "htm", "xml", "txt", "pdf", "zip"}

func validEmail(s string) bool {
	tld := s[strings.LastIndexByte(s, '.')+1:]
	return s[0] != '.' && !slices.ContainsFunc(fileExtensions, func(x string) bool { return strings.EqualFold(x, tld) })
}

// notPlaceholder rejects values that are already masked or empty
// templates: "********", "xxxxxxxx", "<redacted>", "${TOKEN}".
func notPlaceholder(s string) bool {
	if s == "" || strings.HasPrefix(s, "<") || strings.HasPrefix(s, "${") || strings.HasPrefix(s, "{{") {
		return false
	}
	return strings.Trim(s, "*xX•.") != ""
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// findCards finds runs of 13 to 19 digits, optionally separated by
// single spaces or dashes, that start after a non-alphanumeric byte.
// Longer runs are skipped whole: a 25-digit number holds no card.
func findCards(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); i++ {
		if !isDigitByte(s[i]) || i > 0 && (isAlnum(s[i-1]) || s[i-1] == '.') {
			continue
		}
		j, n := i, 0
		for j < len(s) {
			if isDigitByte(s[j]) {
				j++
				n++
				continue
			}
			if (s[j] == ' ' || s[j] == '-') && j+1 < len(s) && isDigitByte(s[j+1]) {
				j++
				continue
			}
			break
		}
		if n >= 13 && n <= 19 {
			out = append(out, [2]int{i, j})
		}
		i = j
	}
	return out
}

// findEmails finds local@domain.tld around each '@': a local part of up
// to 64 bytes of [A-Za-z0-9._%+-], a domain of labels of [A-Za-z0-9-]
// separated by dots, ending in a top-level domain of 2 to 24 letters.
func findEmails(s string) [][2]int {
	var out [][2]int
	for off := 0; ; {
		i := strings.IndexByte(s[off:], '@')
		if i < 0 {
			return out
		}
		at := off + i
		off = at + 1
		a := at
		for a > 0 && at-a < 64 && isLocalByte(s[a-1]) {
			a--
		}
		b := at + 1
		for b < len(s) && b-at <= 253 && (isAlnum(s[b]) || s[b] == '-' || s[b] == '.') {
			b++
		}
		for b > at+1 && (s[b-1] == '.' || s[b-1] == '-') {
			b--
		}
		dot := strings.LastIndexByte(s[at+1:b], '.')
		if a == at || dot <= 0 {
			continue
		}
		tld := s[at+2+dot : b]
		if len(tld) < 2 || len(tld) > 24 || !isLetters(tld) || strings.Contains(s[at+1:b], "..") {
			continue
		}
		out = append(out, [2]int{a, b})
		off = b
	}
}

func isLocalByte(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// prefix is at most n leading bytes of s.
func prefix(s string, n int) string { return s[:min(n, len(s))] }

// showToken keeps a quarter of the value, at most 8 bytes: enough to tell
// an AKIA key from an ASIA one, or one key from another in a list.
func showToken(s string) string { return prefix(s, min(8, len(s)/4)) + redactedTag }

func showSlack(s string) string {
	if i := strings.Index(s, "/services/"); i >= 0 {
		return s[:i+len("/services/")] + redactedTag
	}
	return showToken(s)
}

func showUserPass(s string) string {
	user, _, _ := strings.Cut(s, ":")
	return prefix(user, min(3, len(user)/2)) + "…:" + redactedTag
}

func showLength(s string) string { return fmt.Sprintf("[redacted, %d chars]", len(s)) }

// showCard keeps the first and last four digits.
func showCard(s string) string {
	var d []byte
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			d = append(d, s[i])
		}
	}
	return string(d[:4]) + strings.Repeat("*", len(d)-8) + string(d[len(d)-4:])
}

// showEmail keeps the first character of the local part and the domain.
func showEmail(s string) string {
	at := strings.IndexByte(s, '@')
	return s[:1] + "***" + s[at:]
}

// FindSensitiveData scans the paths, headers and bodies of a window for
// credentials and personal data (see the Kind constants), listing each
// finding with its record, where it was and a redacted form of the value,
// and counting every kind over the whole window. Binary (base64) bodies are
// scanned decoded. It reads bodies, so it costs more than the statistics.
func FindSensitiveData(ctx context.Context, src Source, q SensitiveQuery) (SensitiveResult, error) {
	sc, err := newScanner(q.Kinds)
	if err != nil {
		return SensitiveResult{}, err
	}
	if err := q.Window.check(); err != nil {
		return SensitiveResult{}, err
	}
	limit := capLimit(q.Limit, DefaultSensitiveLimit, MaxSensitiveLimit)
	res := SensitiveResult{Window: q.Window, Findings: []Finding{}, Counts: []KindCount{}}
	for _, k := range SensitiveKinds() {
		if sc.want[k] {
			res.Kinds = append(res.Kinds, k)
		}
	}
	counts := map[string]*KindCount{}
	seed := maphash.MakeSeed()
	distinct := map[uint64]struct{}{}
	tmpl := newTemplater()
	err = scan(ctx, src, q.Window, q.Match, true, func(r *sdk.Record) bool {
		res.RecordsScanned++
		type placed struct {
			hit
			where string
		}
		var found []placed
		add := func(where string, hs []hit) {
			for _, h := range hs {
				found = append(found, placed{h, where})
			}
		}
		add("path", sc.text(r.Path))
		for _, side := range []struct {
			name string
			m    *sdk.Message
		}{{"request", r.Request}, {"response", r.Response}} {
			if side.m == nil {
				continue
			}
			for _, h := range side.m.Headers {
				add(side.name+".header:"+h.Name, sc.header(h))
			}
			if side.m.Body != "" {
				add(side.name+".body", sc.text(bodyText(side.m)))
			}
		}
		if len(found) == 0 {
			return true
		}
		path := tmpl.get(r.Protocol, r.Path)
		for _, f := range found {
			if len(f.secret) >= 4 {
				path = strings.ReplaceAll(path, f.secret, "{redacted}")
			}
		}
		seen := map[string]bool{}
		inRecord := map[string]bool{}
		for _, f := range found {
			k := f.kind + "\x00" + f.where + "\x00" + f.secret
			if seen[k] {
				continue
			}
			seen[k] = true
			c := counts[f.kind]
			if c == nil {
				c = &KindCount{Kind: f.kind}
				counts[f.kind] = c
			}
			c.Findings++
			if !inRecord[f.kind] {
				inRecord[f.kind] = true
				c.Records++
			}
			hk := maphash.String(seed, f.kind+"\x00"+f.secret)
			if _, ok := distinct[hk]; !ok && len(distinct) < maxDistinct {
				distinct[hk] = struct{}{}
				c.Distinct++
			}
			if len(res.Findings) == limit {
				res.Truncated = true
				continue
			}
			res.Findings = append(res.Findings, Finding{
				Kind: f.kind, ID: r.ID, Timestamp: r.Timestamp.UTC(), Protocol: r.Protocol, Method: r.Method, Path: path,
				Server: r.Dst.String(), Client: r.Src.String(), Where: f.where, Evidence: f.evidence,
			})
		}
		return true
	})
	if err != nil {
		return SensitiveResult{}, fmt.Errorf("analysis: find sensitive data: %w", err)
	}
	for _, c := range counts {
		res.Counts = append(res.Counts, *c)
	}
	slices.SortFunc(res.Counts, func(a, b KindCount) int { return cmp.Or(b.Findings-a.Findings, strings.Compare(a.Kind, b.Kind)) })
	res.Summary = sensitiveSummary(res)
	return res, nil
}

func sensitiveSummary(r SensitiveResult) string {
	if len(r.Counts) == 0 {
		return fmt.Sprintf("no sensitive data found in %d records", r.RecordsScanned)
	}
	parts := make([]string, len(r.Counts))
	for i, c := range r.Counts {
		parts[i] = fmt.Sprintf("%s %d in %d records", c.Kind, c.Findings, c.Records)
	}
	more := ""
	if r.Truncated {
		more = fmt.Sprintf(" (%d listed)", len(r.Findings))
	}
	return fmt.Sprintf("sensitive data in %d records scanned: %s%s", r.RecordsScanned, strings.Join(parts, ", "), more)
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

// isLetters reports a non-empty run of ASCII letters.
func isLetters(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
