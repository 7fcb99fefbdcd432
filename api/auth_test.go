package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tests := []struct {
		name, token, path, header, basicPW string
		want                               int
	}{
		{"no token configured", "", "/api/v1/devices", "", "", 204},
		{"missing", "s3cret", "/api/v1/devices", "", "", 401},
		{"bearer", "s3cret", "/api/v1/devices", "Bearer s3cret", "", 204},
		{"wrong bearer", "s3cret", "/api/v1/devices", "Bearer nope", "", 401},
		{"influx Token scheme", "s3cret", "/write?db=x", "Token s3cret", "", 204},
		{"basic password", "s3cret", "/write?db=x", "", "s3cret", 204},
		{"p parameter on /write", "s3cret", "/write?db=x&p=s3cret", "", "", 204},
		{"p parameter elsewhere", "s3cret", "/api/v1/devices?p=s3cret", "", "", 401},
		{"healthz open", "s3cret", "/healthz", "", "", 204},
		{"ping open", "s3cret", "/ping", "", "", 204},
		{"backup guarded", "s3cret", "/api/v1/admin/backup", "", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			if tt.basicPW != "" {
				r.SetBasicAuth("telegraf", tt.basicPW)
			}
			rec := httptest.NewRecorder()
			RequireToken(tt.token, ok).ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tt.want, rec.Body)
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

// TestNewGuardsRoutes: New applies the token to its own routes.
func TestNewGuardsRoutes(t *testing.T) {
	h := New(Deps{Token: "s3cret", Health: func() error { return nil }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/devices", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("devices without token: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("healthz: %d", rec.Code)
	}
}
