package fanout

import (
	"encoding/json"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// The worker protocol. Every path is under Prefix and needs the hub's
// bearer token. Streams are NDJSON: one [line] per record or flow, in the
// order asked for, then one line with End set. A stream that stops before
// its End line was cut (the worker stopped or the connection broke), which
// the reader reports as that node's failure rather than as a short answer.
const (
	// Prefix is where the worker routes live on a hub.
	Prefix = "/api/v1/worker/"

	pathRecords  = Prefix + "records" // POST recordsRequest → stream of records
	pathFlows    = Prefix + "flows"   // POST flowsRequest → stream of flows
	pathRecord   = Prefix + "records/"
	pathFlow     = Prefix + "flows/"
	pathSummary  = Prefix + "summary"  // GET → summaryResponse
	pathEpochs   = Prefix + "epochs"   // POST epochsRequest → epochsResponse
	pathDisabled = Prefix + "disabled" // PUT disabledRequest
)

// recordsRequest is storage.Query on the wire. The filters travel as the
// text they were parsed from; the worker compiles them with its own
// dissectors' fields.
type recordsRequest struct {
	Filter     string    `json:"filter,omitempty"`
	KFL        string    `json:"kfl,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	Until      time.Time `json:"until,omitzero"`
	Newest     bool      `json:"newest,omitempty"`
	Cursor     string    `json:"cursor,omitempty"`
	Limit      int       `json:"limit,omitempty"`
	WithBodies bool      `json:"with_bodies,omitempty"`
	SizesOnly  bool      `json:"sizes_only,omitempty"`
}

// flowsRequest is storage.FlowQuery on the wire, without its Match (a Go
// function): the hub applies it to the flows it receives.
type flowsRequest struct {
	Since  time.Time `json:"since,omitzero"`
	Until  time.Time `json:"until,omitzero"`
	Cursor string    `json:"cursor,omitempty"`
}

// line is one line of a stream.
type line struct {
	Record *sdk.Record `json:"record,omitempty"`
	Flow   *sdk.Flow   `json:"flow,omitempty"`
	// Error ends a stream that failed after it began.
	Error string `json:"error,omitempty"`
	// End closes a complete stream with how many items it carried.
	End *streamEnd `json:"end,omitempty"`
}

type streamEnd struct {
	Count int `json:"count"`
}

// summaryResponse is storage.Summary, FlowBounds and the disabled
// dissectors of one worker.
type summaryResponse struct {
	Node       string         `json:"node"`
	Total      int            `json:"total"`
	ByProtocol map[string]int `json:"by_protocol"`
	Failed     int            `json:"failed"`
	First      time.Time      `json:"first,omitzero"`
	Last       time.Time      `json:"last,omitzero"`
	FlowFirst  time.Time      `json:"flow_first,omitzero"`
	FlowLast   time.Time      `json:"flow_last,omitzero"`
	FlowCount  int            `json:"flow_count"`
	Disabled   []string       `json:"disabled"`
}

type epochsRequest struct {
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// epochsResponse maps a Unix minute (in decimal) to its epoch.
type epochsResponse struct {
	Epochs map[string]uint64 `json:"epochs"`
}

type disabledRequest struct {
	Names []string `json:"names"`
}

// errorResponse is the body of every non-2xx answer, as the hub writes it.
type errorResponse struct {
	Error string `json:"error"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs above are encoded
	}
	return b
}
