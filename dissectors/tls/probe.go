package tls

import "github.com/kubeshark-wasm/kubeshark/sdk"

// recordHeader checks a TLS record header: a content type of the TLS 1.x
// record layer, a 3.x version and a length the record layer allows.
func recordHeader(b []byte) (typ byte, length int, ok bool) {
	if len(b) < 5 || b[0] < 20 || b[0] > 24 || b[1] != 3 || b[2] > 4 {
		return 0, 0, false
	}
	length = int(b[3])<<8 | int(b[4])
	if length == 0 || length > maxRecord {
		return 0, 0, false
	}
	return b[0], length, true
}

// probe: a handshake record starting a ClientHello (client) or ServerHello
// (server) is unambiguous; other records only say "TLS, mid-stream". A
// ClientHello in SSL 2.0 format is judged by probeV2.
func probe(data []byte) sdk.Probe {
	if len(data) > 0 && data[0]&0x80 != 0 {
		// No TLS record type has the high bit set; SSL 2.0's header does.
		return probeV2(data)
	}
	if len(data) < 6 {
		// Agree only with a prefix that can still become a record header.
		if len(data) == 0 || data[0] >= 20 && data[0] <= 24 && (len(data) < 2 || data[1] == 3) && (len(data) < 3 || data[2] <= 4) {
			return sdk.Probe{NeedMore: true}
		}
		return sdk.Probe{}
	}
	typ, length, ok := recordHeader(data)
	if !ok {
		return sdk.Probe{}
	}
	if typ == 22 && data[5] == 1 || typ == 22 && data[5] == 2 {
		if len(data) >= 11 {
			hlen := int(data[6])<<16 | int(data[7])<<8 | int(data[8])
			// legacy_version inside the hello, and a body that can hold
			// version, random and the session id length.
			if data[9] != 3 || data[10] > 4 || hlen < 38 || hlen > maxHandshake {
				return sdk.Probe{}
			}
		} else {
			return sdk.Probe{Confidence: 40, FromServer: data[5] == 2, NeedMore: true}
		}
		return sdk.Probe{Confidence: 92, FromServer: data[5] == 2}
	}
	if data[2] == 0 {
		// SSL 3.0 records are only believed with a hello in them.
		return sdk.Probe{}
	}
	// Mid-stream: trust a record header more when the next one follows.
	if len(data) >= 5+length+5 {
		if _, _, ok := recordHeader(data[5+length:]); ok {
			return sdk.Probe{Confidence: 60}
		}
		return sdk.Probe{}
	}
	if typ == 23 || typ == 21 {
		return sdk.Probe{Confidence: 52, NeedMore: true}
	}
	return sdk.Probe{Confidence: 20, NeedMore: true}
}
