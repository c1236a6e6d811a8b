package hub

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/mcp"
	"github.com/kubeshark-wasm/kubeshark/storage"
)

type statusErr struct {
	error
	status int
}

func (e statusErr) HTTPStatus() int { return e.status }

// Authorize replaces the bearer token: its error's HTTPStatus is the
// answer's status, its text the answer's error, and /healthz stays open.
func TestAuthorizeHook(t *testing.T) {
	st, err := storage.Open(context.Background(), storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := mcp.New(mcp.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	h, err := Handler(Options{Server: s, Authorize: func(r *http.Request) error {
		switch r.Header.Get("X-Test") {
		case "ok":
			return nil
		case "forbidden":
			return statusErr{errors.New("forbidden: not you"), http.StatusForbidden}
		}
		return errors.New("no token")
	}})
	if err != nil {
		t.Fatalf("a hub with Authorize and no token: %v", err)
	}
	for _, tc := range []struct {
		path, header string
		status       int
		body         string
		challenge    bool
	}{
		{"/api/status", "ok", 200, "records", false},
		{"/api/status", "forbidden", 403, "forbidden: not you", false},
		{"/api/status", "", 401, "no token", true},
		{"/healthz", "", 200, "ok", false},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		req.Header.Set("X-Test", tc.header)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) || (w.Header().Get("WWW-Authenticate") != "") != tc.challenge {
			t.Errorf("%s with %q: %d %q (challenge %q)", tc.path, tc.header, w.Code, w.Body.String(), w.Header().Get("WWW-Authenticate"))
		}
	}
}
