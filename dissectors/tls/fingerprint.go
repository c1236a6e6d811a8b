package tls

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ja3 returns the JA3 string and its MD5: legacy version, then ciphers,
// extensions, groups and point formats in wire order, GREASE removed.
func ja3(ch *clientHello) (string, string) {
	s := strconv.Itoa(ch.version) + "," + joinDec(ch.ciphers) + "," + joinDec(ch.extensions) + "," +
		joinDec(ch.groups) + "," + joinDec(ch.points)
	sum := md5.Sum([]byte(s))
	return s, hex.EncodeToString(sum[:])
}

func joinDec(vs []int) string {
	parts := make([]string, 0, len(vs))
	for _, v := range vs {
		if !grease(v) {
			parts = append(parts, strconv.Itoa(v))
		}
	}
	return strings.Join(parts, "-")
}

// ja4 implements FoxIO's JA4 for TLS over TCP:
// t{version}{d|i}{ciphers:02}{extensions:02}{alpn}_{sha256(sorted ciphers)[:12]}_{sha256(sorted extensions without SNI and ALPN "_" signature algorithms)[:12]}.
func ja4(ch *clientHello) string {
	// supported_versions, when offered, replaces the legacy field.
	version := ch.version
	if v := highest(ch.versions); v != 0 {
		version = v
	}
	sni := "i"
	if ch.hasSNI {
		sni = "d"
	}
	ciphers := hex4(ch.ciphers)
	exts := hex4(ch.extensions)
	alpn := "00"
	if len(ch.alpn) > 0 && ch.alpn[0] != "" {
		a := ch.alpn[0]
		if alnum(a[0]) && alnum(a[len(a)-1]) {
			alpn = string([]byte{a[0], a[len(a)-1]})
		} else {
			h := hex.EncodeToString([]byte(a))
			alpn = string([]byte{h[0], h[len(h)-1]})
		}
	}
	head := fmt.Sprintf("t%s%s%02d%02d%s", ja4Version(version), sni, min(len(ciphers), 99), min(len(exts), 99), alpn)

	slices.Sort(ciphers)
	b := truncHash(strings.Join(ciphers, ","), len(ciphers) == 0)

	var kept []string
	for _, e := range exts {
		if e != "0000" && e != "0010" {
			kept = append(kept, e)
		}
	}
	slices.Sort(kept)
	c := strings.Join(kept, ",")
	if sigs := hex4(ch.sigAlgs); len(sigs) > 0 {
		c += "_" + strings.Join(sigs, ",")
	}
	return head + "_" + b + "_" + truncHash(c, len(kept) == 0)
}

func hex4(vs []int) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if !grease(v) {
			out = append(out, fmt.Sprintf("%04x", v))
		}
	}
	return out
}

func truncHash(s string, empty bool) string {
	if empty {
		return "000000000000"
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:12]
}

func alnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func ja4Version(v int) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func highest(vs []int) int {
	h := 0
	for _, v := range vs {
		if !grease(v) && v > h {
			h = v
		}
	}
	return h
}
