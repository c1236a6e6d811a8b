package hub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
)

// Plugins manages the plugin store the hub serves under /api/plugins. The
// command that runs the hub implements it over the data directory's plugin
// store and the hub's own trust store; the hub knows nothing of modules or
// signatures. Answers are encoded as JSON as they are.
type Plugins interface {
	List(ctx context.Context) (any, error)
	// Install checks the module's signature with the hub's trust store
	// and installs it; errors wrap ErrPluginRefused (signature or trust),
	// ErrPluginInvalid (not a module the sandbox takes, or a name
	// conflict).
	Install(ctx context.Context, req InstallRequest) (any, error)
	// SetEnabled and Remove take a name or digest; errors wrap
	// ErrPluginNotFound for one not installed.
	SetEnabled(ctx context.Context, ref string, enabled bool) (any, error)
	Remove(ctx context.Context, ref string) (any, error)
}

// InstallRequest is the body of POST /api/plugins: the module the client
// fetched (from a file, URL or OCI registry) and the signature that came
// with it, both base64 in JSON.
type InstallRequest struct {
	Module    []byte `json:"module"`
	Signature []byte `json:"signature,omitempty"`
	// Source is where the client fetched it, recorded with the plugin.
	Source string `json:"source"`
	// AllowUnsigned installs an unsigned or untrusted module (recorded);
	// a signature that does not verify is refused regardless.
	AllowUnsigned bool `json:"allow_unsigned,omitempty"`
	Disabled      bool `json:"disabled,omitempty"`
}

// Errors a Plugins implementation wraps, mapped to HTTP statuses.
var (
	ErrPluginNotFound = errors.New("plugin not installed")
	ErrPluginRefused  = errors.New("plugin refused")
	ErrPluginInvalid  = errors.New("invalid plugin")
)

// maxPluginBody bounds an install request: a 64 MiB module in base64 and
// its signature.
const maxPluginBody = 96 << 20

// pluginRoutes adds /api/plugins. Everything but the listing changes what
// the hub dissects, so it needs a hub started with --allow-destructive.
func (h *hub) pluginRoutes(mux *http.ServeMux) {
	p := h.opts.Plugins
	mux.Handle("GET /api/plugins", h.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.answer(w, "plugins", func() (any, error) { return p.List(r.Context()) })
	})))
	mux.Handle("POST /api/plugins", h.auth(h.destructive(func(w http.ResponseWriter, r *http.Request) {
		var req InstallRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPluginBody)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "request body: want {\"module\": base64, \"signature\": base64, \"source\": ...}: "+err.Error())
			return
		}
		if len(req.Module) == 0 {
			writeError(w, http.StatusBadRequest, "request body has no module")
			return
		}
		h.answer(w, "plugin install", func() (any, error) { return p.Install(r.Context(), req) })
	})))
	for _, enable := range []bool{true, false} {
		verb := "enable"
		if !enable {
			verb = "disable"
		}
		mux.Handle("POST /api/plugins/{ref}/"+verb, h.auth(h.destructive(func(w http.ResponseWriter, r *http.Request) {
			h.answer(w, "plugin "+verb, func() (any, error) { return p.SetEnabled(r.Context(), r.PathValue("ref"), enable) })
		})))
	}
	mux.Handle("DELETE /api/plugins/{ref}", h.auth(h.destructive(func(w http.ResponseWriter, r *http.Request) {
		h.answer(w, "plugin remove", func() (any, error) { return p.Remove(r.Context(), r.PathValue("ref")) })
	})))
}

// destructive refuses a request on a read-only hub.
func (h *hub) destructive(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.opts.AllowDestructive {
			writeError(w, http.StatusForbidden, "this hub is read-only: installing, enabling, disabling or removing plugins through it needs a hub started with --allow-destructive (kubeshark hub --allow-destructive, or kubeshark tap --allow-destructive)")
			return
		}
		next(w, r)
	})
}

// answer runs f and writes its result as JSON, or its error with the
// status the error's kind calls for.
func (h *hub) answer(w http.ResponseWriter, what string, f func() (any, error)) {
	res, err := f()
	if err != nil {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, ErrPluginNotFound):
			status = http.StatusNotFound
		case errors.Is(err, ErrPluginRefused):
			status = http.StatusForbidden
		case errors.Is(err, ErrPluginInvalid):
			status = http.StatusBadRequest
		}
		h.opts.Logger.Warn("hub: "+what, "err", err)
		writeError(w, status, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		h.opts.Logger.Warn("hub: writing response", "what", what, "err", err)
	}
}
