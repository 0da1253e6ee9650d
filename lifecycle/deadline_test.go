package lifecycle

import (
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/workday"
)

// TestArt19Deadline: 10 working days in the province, 20 when another
// province must verify.
func TestArt19Deadline(t *testing.T) {
	cal := workday.Default()
	app := example(t)
	c := &card.Card{CreatedAt: time.Date(2026, 11, 2, 9, 0, 0, 0, China)}
	d := DeadlineOf(cal, c, app, time.Date(2026, 11, 3, 9, 0, 0, 0, China))
	if d.Limit != 10 || d.Due.Format("2006-01-02") != "2026-11-16" || d.Left != 9 || d.Overdue() {
		t.Fatalf("%+v", d)
	}
	app.OtherProvinceVer = true
	d = DeadlineOf(cal, c, app, time.Date(2026, 12, 1, 9, 0, 0, 0, China))
	if d.Limit != 20 || d.Due.Format("2006-01-02") != "2026-11-30" || !d.Overdue() {
		t.Fatalf("%+v", d)
	}
}
