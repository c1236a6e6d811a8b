package hub

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/storage"
	"github.com/kubeshark-wasm/kubeshark/storage/fanout"
	"github.com/kubeshark-wasm/kubeshark/storage/kfl"
	"github.com/kubeshark-wasm/kubeshark/storage/snapshot"
)

// DefaultAddr is where the hub listens unless told otherwise: loopback
// only, so that exposing it is a decision.
const DefaultAddr = "127.0.0.1:8898"

// Options configures the hub's handler.
type Options struct {
	// Server runs the tools. Required.
	Server *mcp.Server
	// Token is the bearer token every request but /healthz must carry.
	Token string
	// Authorize, when set, replaces the bearer token check: it returns
	// nil to serve the request, or an error to refuse it with; the
	// error's HTTPStatus method, when it has one, gives the status (401
	// otherwise). kubeshark hub --auth kubernetes sets it (package
	// kube/hubauth).
	Authorize func(*http.Request) error
	// Worker, when set, serves the worker protocol (fanout.WorkerHandler)
	// under /api/v1/worker/, behind the same token: a central hub reads
	// this node's store through it.
	Worker http.Handler
	// Plugins, when set, serves the plugin store under /api/plugins.
	Plugins Plugins
	// AllowDestructive lets the routes that change state through
	// (installing, enabling, disabling, removing plugins); the hub is
	// read-only without it.
	AllowDestructive bool
	Logger           *slog.Logger
}

// route maps a GET path to a tool; {id} in the path becomes the tool's
// idArg argument.
type route struct {
	pattern, tool, idArg string
}

var routes = []route{
	{"GET /api/status", "get_data_boundaries", ""},
	{"GET /api/calls", "list_api_calls", ""},
	{"GET /api/calls/{id}", "get_api_call", "id"},
	{"GET /api/stats", "get_api_stats", ""},
	{"GET /api/flows", "list_l4_flows", ""},
	{"GET /api/flows/summary", "get_l4_flow_summary", ""},
	{"GET /api/flows/{id}", "get_tcp_insights", "id"},
	{"GET /api/dissectors", "list_dissectors", ""},
	{"GET /api/service-map", "get_service_map", ""},
	{"GET /api/snapshots", "list_snapshots", ""},
	{"GET /api/snapshots/{id}", "get_snapshot", "id"},
}

// Handler returns the hub's HTTP handler.
func Handler(opts Options) (http.Handler, error) {
	if opts.Server == nil {
		return nil, errors.New("hub: Options.Server is required")
	}
	if opts.Authorize == nil && len(opts.Token) < 32 {
		return nil, errors.New("hub: a token of at least 32 characters is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &hub{opts: opts, schemas: map[string]map[string]string{}}
	for _, t := range opts.Server.Tools() {
		h.schemas[t.Name] = propertyTypes(t)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	for _, rt := range routes {
		if _, ok := h.schemas[rt.tool]; !ok {
			continue
		}
		mux.Handle(rt.pattern, h.auth(h.getTool(rt)))
	}
	mux.Handle("POST /api/tools/{name}", h.auth(http.HandlerFunc(h.postTool)))
	mux.Handle("GET /api/snapshots/{id}/pcap", h.auth(http.HandlerFunc(h.snapshotPcap)))
	if opts.Worker != nil {
		mux.Handle(fanout.Prefix, h.auth(opts.Worker))
	}
	if opts.Plugins != nil {
		h.pluginRoutes(mux)
	}
	mcpHandler := mcp.HTTPHandler(opts.Server.MCPServer(), "/mcp")
	mux.Handle("/mcp", h.auth(mcpHandler))
	return mux, nil
}

type hub struct {
	opts    Options
	schemas map[string]map[string]string // tool → argument → JSON type
}

// ProxiedTokenHeader carries the caller's token when the request comes
// through the Kubernetes API server, which keeps Authorization for itself
// and strips it before proxying.
const ProxiedTokenHeader = "X-Kubeshark-Token"

// auth checks the bearer token in constant time, or runs
// Options.Authorize.
func (h *hub) auth(next http.Handler) http.Handler {
	if h.opts.Authorize != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := h.opts.Authorize(r); err != nil {
				status := http.StatusUnauthorized
				var s interface{ HTTPStatus() int }
				if errors.As(err, &s) {
					status = s.HTTPStatus()
				}
				if status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="kubeshark"`)
				}
				writeError(w, status, err.Error())
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	want := []byte("Bearer " + h.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if tok := r.Header.Get(ProxiedTokenHeader); len(got) == 0 && tok != "" {
			// Through the API server's service proxy (kubeshark proxy), whose
			// authentication consumes Authorization.
			got = []byte("Bearer " + tok)
		}
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kubeshark"`)
			msg := "missing bearer token: send Authorization: Bearer <token> (kubeshark hub token prints it)"
			if len(got) > 0 {
				msg = "wrong bearer token (kubeshark hub token prints the right one)"
			}
			writeError(w, http.StatusUnauthorized, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *hub) getTool(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		args, err := h.queryArgs(rt.tool, r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if rt.idArg != "" {
			args[rt.idArg] = r.PathValue("id")
		}
		raw, _ := json.Marshal(args)
		h.run(w, r, rt.tool, raw)
	})
}

func (h *hub) postTool(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var raw json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&raw); err != nil && err.Error() != "EOF" {
		writeError(w, http.StatusBadRequest, "request body is not a JSON object of tool arguments: "+err.Error())
		return
	}
	h.run(w, r, name, raw)
}

func (h *hub) run(w http.ResponseWriter, r *http.Request, tool string, args json.RawMessage) {
	res, _, err := h.opts.Server.Call(r.Context(), tool, args)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		h.opts.Logger.Warn("hub: writing response", "tool", tool, "err", err)
	}
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, snapshot.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, mcp.ErrDestructive):
		return http.StatusForbidden
	case errors.Is(err, mcp.ErrBadArgument), errors.Is(err, kfl.ErrBadFilter), errors.Is(err, storage.ErrBadCursor), errors.Is(err, storage.ErrBadID):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// queryArgs turns query parameters into tool arguments, typed by the
// tool's input schema, so that ?limit=5 reaches the tool as a number.
func (h *hub) queryArgs(tool string, r *http.Request) (map[string]any, error) {
	types := h.schemas[tool]
	args := map[string]any{}
	for k, vs := range r.URL.Query() {
		v := vs[len(vs)-1]
		switch types[k] {
		case "":
			// Unknown names go through as strings; the tool rejects them
			// with the list of the ones it takes.
			args[k] = v
		case "integer":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("query parameter %s=%q: want an integer", k, v)
			}
			args[k] = n
		case "number":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("query parameter %s=%q: want a number", k, v)
			}
			args[k] = f
		case "boolean":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("query parameter %s=%q: want true or false", k, v)
			}
			args[k] = b
		case "array":
			args[k] = strings.Split(v, ",")
		default:
			args[k] = v
		}
	}
	return args, nil
}

// propertyTypes reads the JSON type of each argument from a tool's input
// schema.
func propertyTypes(t mcpgo.Tool) map[string]string {
	var s struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
	}
	json.Unmarshal(t.RawInputSchema, &s)
	out := map[string]string{}
	for name, p := range s.Properties {
		switch v := p.Type.(type) {
		case string:
			out[name] = v
		case []any:
			for _, x := range v {
				if x != "null" {
					out[name], _ = x.(string)
				}
			}
		}
	}
	return out
}

// snapshotPcap streams a snapshot as pcapng. Filters are compiled before
// the first byte goes out, so a bad one is still a 400.
func (h *hub) snapshotPcap(w http.ResponseWriter, r *http.Request) {
	id, q := r.PathValue("id"), r.URL.Query()
	if _, err := h.opts.Server.ExportFilter(q.Get("bpf"), q.Get("kfl")); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	if _, _, err := h.opts.Server.Call(r.Context(), "get_snapshot", []byte(`{"id":`+strconv.Quote(id)+`}`)); err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`.pcapng"`)
	if _, err := h.opts.Server.WriteSnapshotPcap(r.Context(), w, id, q.Get("bpf"), q.Get("kfl")); err != nil {
		// Headers are gone; all that is left is to cut the stream short.
		h.opts.Logger.Warn("hub: snapshot export", "id", id, "err", err)
	}
}
