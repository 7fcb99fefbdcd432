package cloud

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestQueryRoutesNeedToken(t *testing.T) {
	tests := []struct {
		name         string
		admin, read  string
		header       string
		unauthorized bool
	}{
		{"no tokens configured: open", "", "", "", false},
		{"admin set, none sent", "adm", "", "", true},
		{"admin set, admin sent", "adm", "", "Bearer adm", false},
		{"read set, read sent", "adm", "rd", "Bearer rd", false},
		{"read set, wrong sent", "", "rd", "Bearer nope", true},
		{"read set, not bearer", "", "rd", "rd", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{cfg: Config{AdminToken: tt.admin, ReadToken: tt.read}}
			h := s.reading(func(w http.ResponseWriter, r *http.Request) error { return nil })
			r := httptest.NewRequest("GET", "/api/v1/edges/e1/series", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			err := h(httptest.NewRecorder(), r)
			if (err != nil) != tt.unauthorized {
				t.Fatalf("err %v, want unauthorized %v", err, tt.unauthorized)
			}
			if code, _ := statusOf(err); err != nil && code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", code)
			}
		})
	}
}
