package workday

import (
	"testing"
	"time"
)

var cst = time.FixedZone("CST", 8*3600)

func date(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02", s, cst)
	if err != nil {
		panic(err)
	}
	return t
}

// TestArt19TimeLimits: 10 working days in the province, 20 when another
// province must verify, skipping weekends and holidays but counting the
// adjusted working weekends.
func TestArt19TimeLimits(t *testing.T) {
	c := Default()
	tests := []struct {
		received string
		n        int
		due      string
	}{
		{"2026-11-02", 10, "2026-11-16"}, // Monday: two plain weeks
		{"2026-11-27", 1, "2026-11-30"},  // Friday: next working day is Monday
		{"2026-09-28", 10, "2026-10-16"}, // across National Day; 10-10 (Sat) is a working day
		{"2026-02-13", 1, "2026-02-14"},  // 2026-02-14 is an adjusted working Saturday
		{"2026-02-13", 2, "2026-02-24"},  // then the Spring Festival holiday
		{"2026-11-02", 20, "2026-11-30"},
	}
	for _, tc := range tests {
		if got := c.Due(date(tc.received), tc.n).Format("2006-01-02"); got != tc.due {
			t.Errorf("Due(%s, %d) = %s, want %s", tc.received, tc.n, got, tc.due)
		}
	}
	if Limit(false) != 10 || Limit(true) != 20 {
		t.Fatal("Art. 19 limits")
	}
	due := c.Due(date("2026-11-02"), 10)
	if l := c.Left(date("2026-11-02"), due); l != 10 {
		t.Fatalf("left on day 0: %d", l)
	}
	if l := c.Left(date("2026-11-16"), due); l != 0 {
		t.Fatalf("left on the due day: %d", l)
	}
	if l := c.Left(date("2026-11-18"), due); l != -2 {
		t.Fatalf("overdue by two: %d", l)
	}
	if !c.Covers(2026) || c.Covers(2031) {
		t.Fatal("Covers")
	}
}

func TestCalendarErrors(t *testing.T) {
	for _, bad := range []string{
		"[2026]\nholidays = [\"2025-01-01\"]\n",
		"[x]\nholidays = []\n",
		"[2026]\nholidays = [\"2026-01-01\"]\nworkdays = [\"2026-01-01\"]\n",
		"[2026]\nholidays = [\"2026-13-01\"]\n",
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
