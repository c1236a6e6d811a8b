package hub

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAuthThroughTheAPIServer: the Kubernetes API server strips
// Authorization before proxying, so the token also counts in
// ProxiedTokenHeader; Authorization, when present, decides.
func TestAuthThroughTheAPIServer(t *testing.T) {
	tok := strings.Repeat("ab", 32)
	h := (&hub{opts: Options{Token: tok}}).auth(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("served"))
	}))
	tests := []struct {
		name   string
		header map[string]string
		code   int
	}{
		{"none", nil, 401},
		{"authorization", map[string]string{"Authorization": "Bearer " + tok}, 200},
		{"proxied", map[string]string{ProxiedTokenHeader: tok}, 200},
		{"proxied wrong", map[string]string{ProxiedTokenHeader: "x" + tok[1:]}, 401},
		{"proxied with a Bearer prefix", map[string]string{ProxiedTokenHeader: "Bearer " + tok}, 401},
		{"wrong authorization wins", map[string]string{"Authorization": "Bearer nope", ProxiedTokenHeader: tok}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/calls", nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Errorf("status %d, want %d (%s)", rec.Code, tt.code, rec.Body)
			}
		})
	}
}
