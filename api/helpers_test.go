package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/store"
)

func httptestRequest(method, path, auth string) *http.Request {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = "192.0.2.10:40000"
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req
}

func (v *env) serve(req *http.Request) *resp {
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, req)
	return &resp{ResponseRecorder: rec, body: rec.Body.Bytes()}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// failingStore fails user lookups with an internal error.
type failingStore struct{ *store.DB }

func (failingStore) GetUserByName(context.Context, string) (staff.User, error) {
	return staff.User{}, errors.New("database exploded at 10.0.0.5")
}
