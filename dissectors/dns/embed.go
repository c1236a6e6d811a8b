package dns

import (
	"errors"
	"strconv"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// ErrNotDNS is returned by RecordFromMessages when neither message holds
// even a DNS header.
var ErrNotDNS = errors.New("no DNS message")

// RecordFromMessages builds the record of one DNS exchange whose messages
// another protocol carried whole, such as DNS over HTTPS (RFC 8484): the
// record this dissector would emit for the same query and response, with
// the same Method, Path, Status, StatusText, Failed and Fields.
//
// query or response may be nil when that side carried no DNS message; note
// then says why, in place of the dissector's own "no response captured" or
// "response without a captured query". A side that is given but holds no
// DNS header is treated as absent and noted. The error is ErrNotDNS when no
// side is left.
//
// Timestamp, End and RequestDir are left zero for the caller, which knows
// when and in which direction the messages travelled; a message's Size is
// its length, as there is no DNS framing to count.
func RecordFromMessages(query, response []byte, note string) (*sdk.Record, error) {
	q, qnote := embedded("query", query)
	resp, rnote := embedded("response", response)
	if q == nil && resp == nil {
		return nil, ErrNotDNS
	}
	switch {
	case q == nil && qnote != "":
		note = joinNote(qnote, note)
	case resp == nil && rnote != "":
		note = joinNote(rnote, note)
	case note == "" && q == nil:
		note = "response without a captured query"
	case note == "" && resp == nil:
		note = "no response captured"
	}
	size := 0
	if resp != nil {
		size = resp.size
	}
	return build(q, resp, 0, size, note), nil
}

func embedded(side string, msg []byte) (*query, string) {
	if msg == nil {
		return nil, ""
	}
	m, ok := parse(msg)
	if !ok {
		return nil, side + ": not a DNS message (" + strconv.Itoa(len(msg)) + " bytes)"
	}
	return &query{msg: m, size: len(msg)}, ""
}

func joinNote(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}
