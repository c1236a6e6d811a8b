package dns

import "strconv"

// typeNames are the IANA mnemonics of resource record types.
var typeNames = map[uint16]string{
	1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR", 10: "NULL",
	11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB",
	19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAP-PTR", 24: "SIG", 25: "KEY", 26: "PX",
	27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 31: "EID", 32: "NIMLOC", 33: "SRV", 34: "ATMA",
	35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6", 39: "DNAME", 40: "SINK", 41: "OPT", 42: "APL",
	43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID",
	50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA", 55: "HIP", 56: "NINFO", 57: "RKEY",
	58: "TALINK", 59: "CDS", 60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB",
	65: "HTTPS", 99: "SPF", 108: "EUI48", 109: "EUI64", 249: "TKEY", 250: "TSIG", 251: "IXFR",
	252: "AXFR", 253: "MAILB", 254: "MAILA", 255: "ANY", 256: "URI", 257: "CAA", 32768: "TA",
	32769: "DLV",
}

// typeValues holds the mnemonics of the types below 258 as interface
// values, boxed once: a string boxed for each record field is an
// allocation, and inside WebAssembly an allocation costs more than
// decoding the resource it names. An array also spares a guest the map
// lookup, whose hashing is slow there.
var typeValues = func() (a [258]any) {
	for t, s := range typeNames {
		if int(t) < len(a) {
			a[t] = s
		}
	}
	return a
}()

// typeValue is typeName as a field value.
func typeValue(t uint16) any {
	if int(t) < len(typeValues) && typeValues[t] != nil {
		return typeValues[t]
	}
	return typeName(t)
}

// typeName renders a type as its mnemonic, or in RFC 3597's TYPEnnn form.
func typeName(t uint16) string {
	if int(t) < len(typeValues) && typeValues[t] != nil {
		return typeValues[t].(string)
	}
	if s, ok := typeNames[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// classValue renders a class as a field value (a constant in an interface
// needs no allocation); the top bit (mDNS unicast-response or cache-flush)
// is not part of the class.
func classValue(c uint16) any {
	switch c & 0x7fff {
	case 1:
		return "IN"
	case 3:
		return "CH"
	case 4:
		return "HS"
	case 254:
		return "NONE"
	case 255:
		return "ANY"
	}
	return "CLASS" + strconv.Itoa(int(c&0x7fff))
}

var rcodeNames = [...]string{
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
	"NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", "", "", "", "",
	"BADVERS", "BADKEY", "BADTIME", "BADMODE", "BADNAME", "BADALG", "BADTRUNC", "BADCOOKIE",
}

// rcodeName renders a (possibly EDNS-extended) response code.
func rcodeName(r int) string {
	if r >= 0 && r < len(rcodeNames) && rcodeNames[r] != "" {
		return rcodeNames[r]
	}
	return "RCODE" + strconv.Itoa(r)
}

// rcodeFailed says whether a response code fails the lookup: any but
// NOERROR, NXDOMAIN included (see the package doc).
func rcodeFailed(r int) bool { return r != 0 }

// opcodeValues are the opcodes' names as interface values (see typeValues).
var opcodeValues = [...]any{"QUERY", "IQUERY", "STATUS", nil, "NOTIFY", "UPDATE", "DSO"}

// opcodeValue renders an opcode as a field value.
func opcodeValue(o int) any {
	if o >= 0 && o < len(opcodeValues) && opcodeValues[o] != nil {
		return opcodeValues[o]
	}
	return "OPCODE" + strconv.Itoa(o)
}
