package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

type noArgs struct{}

// Span is the time range one kind of data covers.
type Span struct {
	Oldest *time.Time `json:"oldest,omitempty"`
	Newest *time.Time `json:"newest,omitempty"`
	Count  int64      `json:"count"`
	// Bytes is the space the data takes, when known.
	Bytes int64 `json:"bytes,omitempty"`
}

// BoundariesResult is get_data_boundaries' answer.
type BoundariesResult struct {
	Records    Span           `json:"records"`
	Flows      Span           `json:"flows"`
	Packets    Span           `json:"packets"`
	ByProtocol map[string]int `json:"by_protocol"`
	Failed     int            `json:"failed"`
	// Capture is the live capture's health while kubeshark tap runs.
	Capture *CaptureStatus `json:"capture,omitempty"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (s *Server) boundaries(ctx context.Context, _ noArgs) (BoundariesResult, string, error) {
	var res BoundariesResult
	sum, err := s.live(ctx).Summary(ctx)
	if err != nil {
		return res, "", err
	}
	res.Records = Span{Oldest: tp(sum.First), Newest: tp(sum.Last), Count: int64(sum.Total)}
	res.ByProtocol, res.Failed = sum.ByProtocol, sum.Failed
	first, last, n, err := s.live(ctx).FlowBounds(ctx)
	if err != nil {
		return res, "", err
	}
	res.Flows = Span{Oldest: tp(first), Newest: tp(last), Count: int64(n)}
	if s.opts.Packets != nil {
		b, err := s.opts.Packets.Boundaries(ctx)
		if err != nil {
			return res, "", err
		}
		res.Packets = Span{Oldest: tp(b.Oldest), Newest: tp(b.Newest), Count: b.Count, Bytes: b.Bytes}
	}
	f := func(sp Span) string {
		if sp.Oldest == nil {
			return "none"
		}
		return fmt.Sprintf("%d from %s to %s", sp.Count, sp.Oldest.Format(time.RFC3339Nano), sp.Newest.Format(time.RFC3339Nano))
	}
	text := fmt.Sprintf("records: %s (%d failed); flows: %s; raw packets: %s", f(res.Records), res.Failed, f(res.Flows), f(res.Packets))
	if s.opts.Capture != nil {
		c := s.opts.Capture.CaptureStatus()
		res.Capture = &c
		text += fmt.Sprintf("; live capture on %s since %s: %d packets, %d lost in the kernel (ring buffer full), %d cut at the snap length",
			strings.Join(c.Attached, ", "), c.Since.UTC().Format(time.RFC3339), c.Packets, c.KernelLost, c.Snapped)
		if c.TLS != nil {
			text += fmt.Sprintf("; TLS plaintext from %d processes (%d libssl, %d Go binaries hooked): %d calls, %d lost in the kernel",
				c.TLS.Processes, len(c.TLS.Libraries), len(c.TLS.Binaries), c.TLS.Events, c.TLS.Lost)
		}
	}
	return res, text, nil
}

// DissectorView is one dissector in list_dissectors.
type DissectorView struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Description string   `json:"description,omitempty"`
	Protocols   []string `json:"protocols"`
	Transports  []string `json:"transports"`
	Source      string   `json:"source"`
	ABIVersion  int      `json:"abi_version"`
	Enabled     bool     `json:"enabled"`
	Fields      int      `json:"fields" jsonschema:"how many KFL fields the dissector declares; read kubeshark://dissectors/{name} for them"`
	// LastRun is what the last import or tap that stopped saw of it.
	LastRun *DissectorHealth `json:"last_run,omitempty" jsonschema:"the dissector's faults, errors and contested connections in the last import or tap"`
}

// DissectorHealthKey is the store metadata key under which an import or a
// tap saves what it saw of a dissector (JSON, see DissectorHealth).
func DissectorHealthKey(name string) string { return "dissector-health/" + name }

// DissectorHealth is a dissector's record in the last import or tap.
type DissectorHealth struct {
	At          time.Time `json:"at"`
	Faults      int       `json:"faults"`
	Quarantined bool      `json:"quarantined"`
	LastFault   string    `json:"last_fault,omitempty"`
	Errors      *struct {
		Count    int64 `json:"count" jsonschema:"connections given up on, malformed records, faults and contested connections"`
		Examples []struct {
			Kind  string `json:"kind" jsonschema:"fault, rejected, malformed or contested (its probe claimed a connection another dissector also claimed)"`
			Conn  string `json:"conn,omitempty"`
			Error string `json:"error"`
		} `json:"examples"`
	} `json:"errors,omitempty"`
}

// DissectorsResult is list_dissectors' and get_dissection_status' answer.
type DissectorsResult struct {
	Dissectors []DissectorView `json:"dissectors"`
	// Disabled lists the dissectors imports skip; "*" means all dissection
	// is off.
	Disabled []string `json:"disabled"`
	// RecordsByProtocol counts the stored records of each protocol
	// (get_dissection_status only).
	RecordsByProtocol map[string]int `json:"records_by_protocol,omitempty"`
	Note              string         `json:"note,omitempty"`
}

func (s *Server) dissectorViews(ctx context.Context) (DissectorsResult, error) {
	disabled, err := s.live(ctx).DisabledDissectors(ctx)
	if err != nil {
		return DissectorsResult{}, err
	}
	res := DissectorsResult{Dissectors: []DissectorView{}, Disabled: disabled}
	for _, d := range s.dissectors() {
		m := d.Manifest
		v := DissectorView{
			Name: m.Name, Version: m.Version, Description: m.Description, Protocols: nonNil(m.Protocols), Transports: nonNil(m.Transports),
			Source: d.Source, ABIVersion: d.ABIVersion, Fields: len(m.Fields),
			Enabled: !slices.Contains(disabled, m.Name) && !slices.Contains(disabled, "*"),
		}
		// Health is kept in each store; a cluster hub's merged view has
		// none of its own, so its dissectors carry no last_run.
		meta, hasMeta := s.live(ctx).(interface {
			GetMeta(context.Context, string) ([]byte, error)
		})
		if !hasMeta {
			res.Dissectors = append(res.Dissectors, v)
			continue
		}
		if b, err := meta.GetMeta(ctx, DissectorHealthKey(m.Name)); err == nil {
			var h DissectorHealth
			if json.Unmarshal(b, &h) == nil {
				v.LastRun = &h
			}
		}
		res.Dissectors = append(res.Dissectors, v)
	}
	return res, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// dissectorsText is the summary line of the dissector tools.
func dissectorsText(res DissectorsResult) string {
	var on, off []string
	for _, d := range res.Dissectors {
		if d.Enabled {
			on = append(on, d.Name)
		} else {
			off = append(off, d.Name)
		}
	}
	text := fmt.Sprintf("%d dissectors, enabled: %s", len(res.Dissectors), strings.Join(on, ", "))
	if len(off) > 0 {
		text += "; DISABLED: " + strings.Join(off, ", ")
	}
	return text
}

func (s *Server) listDissectors(ctx context.Context, _ noArgs) (DissectorsResult, string, error) {
	res, err := s.dissectorViews(ctx)
	if err != nil {
		return res, "", err
	}
	return res, dissectorsText(res), nil
}

func (s *Server) dissectionStatus(ctx context.Context, _ noArgs) (DissectorsResult, string, error) {
	res, err := s.dissectorViews(ctx)
	if err != nil {
		return res, "", err
	}
	sum, err := s.live(ctx).Summary(ctx)
	if err != nil {
		return res, "", err
	}
	res.RecordsByProtocol = sum.ByProtocol
	res.Note = "dissection settings apply to the next import (kubeshark import) and, later, to live capture"
	text := dissectorsText(res)
	if slices.Contains(res.Disabled, "*") {
		text = "ALL DISSECTION DISABLED; " + text
	}
	return res, text + fmt.Sprintf("; stored: %d records", sum.Total), nil
}

type dissectionArgs struct {
	Name string `json:"name,omitempty" jsonschema:"dissector name (see list_dissectors); omit for all dissection"`
}

func (s *Server) setDissection(enable bool) func(context.Context, dissectionArgs) (DissectorsResult, string, error) {
	return func(ctx context.Context, a dissectionArgs) (DissectorsResult, string, error) {
		name := a.Name
		if name == "" {
			name = "*"
		} else if !slices.ContainsFunc(s.dissectors(), func(d Dissector) bool { return d.Manifest.Name == name }) {
			return DissectorsResult{}, "", fmt.Errorf("%w: no dissector %q; list_dissectors shows the names", ErrBadArgument, name)
		}
		disabled, err := s.live(ctx).DisabledDissectors(ctx)
		if err != nil {
			return DissectorsResult{}, "", err
		}
		if enable {
			disabled = slices.DeleteFunc(disabled, func(n string) bool { return n == name })
		} else if !slices.Contains(disabled, name) {
			disabled = append(disabled, name)
		}
		if err := s.live(ctx).SetDisabledDissectors(ctx, disabled); err != nil {
			return DissectorsResult{}, "", err
		}
		return s.dissectionStatus(ctx, noArgs{})
	}
}
