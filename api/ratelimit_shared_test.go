package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"testing"

	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/staff"
)

// TestLoginLimitSharedByInstances: two instances on one database share
// the per-IP login limit, so a client cannot multiply its attempts by
// spreading them over the instances behind a load balancer (issue 9).
func TestLoginLimitSharedByInstances(t *testing.T) {
	a := newEnv(t, Options{LoginWindowLimit: 4})
	// A second instance: its own router and in-memory buckets, the
	// same store.
	svc := lifecycle.NewService(a.st, a.ks, "http://127.0.0.1:8080")
	opt := Options{LoginWindowLimit: 4, LoginBurst: 1000, PublicBurst: 1000, DownloadBurst: 1000, Now: a.clock.Now}
	sv := staff.NewService(a.st, a.st, a.st, staff.Policy{})
	b := &env{t: t, e: New(Deps{Service: svc, Checker: lifecycle.NewChecker(svc), Staff: sv, Quotas: a.st, Logger: slog.New(slog.DiscardHandler), Options: opt}), st: a.st, ks: a.ks, svc: svc, staff: sv, clock: a.clock}
	sv.Now = a.clock.Now
	// A username per attempt, so that no user's delay of wrong passwords
	// (staff) answers instead of the per-IP limit under test.
	body := func(i int) []byte { return []byte(`{"username":"user` + strconv.Itoa(i) + `","password":"wrong"}`) }
	for i, v := range []*env{a, b, a, b} {
		if r := v.do("POST", "/api/v1/login", "", "application/json", body(i)); r.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i+1, r.Code, r.body)
		}
	}
	for i, v := range []*env{a, b} {
		if r := v.do("POST", "/api/v1/login", "", "application/json", body(10+i)); r.Code != http.StatusTooManyRequests {
			t.Fatalf("fifth attempt: %d, want 429", r.Code)
		}
	}
}
