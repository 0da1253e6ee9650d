package lifecycle

import (
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/workday"
)

// TestArt19Deadline: 10 working days in the province, 20 when staff found
// that another province must verify, counted from the day the file became
// complete, not from the application; no due date before.
func TestArt19Deadline(t *testing.T) {
	cal := workday.Default()
	c := &card.Card{CreatedAt: time.Date(2026, 10, 20, 9, 0, 0, 0, China), CompleteAt: time.Date(2026, 11, 2, 9, 0, 0, 0, China)}
	d := DeadlineOf(cal, c, time.Date(2026, 11, 3, 9, 0, 0, 0, China))
	if d.Limit != 10 || d.Due.Format("2006-01-02") != "2026-11-16" || d.DueDate() != "2026-11-16" || d.Left != 9 || d.Overdue() {
		t.Fatalf("%+v", d)
	}
	c.CrossProvince = true
	d = DeadlineOf(cal, c, time.Date(2026, 12, 1, 9, 0, 0, 0, China))
	if d.Limit != 20 || d.Due.Format("2006-01-02") != "2026-11-30" || !d.Overdue() {
		t.Fatalf("%+v", d)
	}
	// Not complete: the clock has not started, however long ago the
	// application came.
	c.CompleteAt = time.Time{}
	d = DeadlineOf(cal, c, time.Date(2027, 3, 1, 9, 0, 0, 0, China))
	if d.Running() || !d.Due.IsZero() || d.DueDate() != "" || d.Overdue() || d.Left != 20 {
		t.Fatalf("%+v", d)
	}
}

// TestArt19CompleteAt: the file is complete when nothing is missing,
// deficient or awaiting review; the clock keeps its start while the file
// stays complete, stops when it is found incomplete, and starts afresh.
func TestArt19CompleteAt(t *testing.T) {
	app := example(t)
	day1 := time.Date(2026, 11, 2, 9, 0, 0, 0, China)
	day2 := day1.AddDate(0, 0, 3)
	if got := completeAt(time.Time{}, app, day1); !got.Equal(day1) {
		t.Fatalf("no materials record (counter, all checked): %v", got)
	}
	app.Materials = map[card.Material]card.MaterialState{card.MatIDCards: card.Provided, card.MatHukou: card.Submitted, card.MatMarriage: card.PopulationDB}
	if got := completeAt(time.Time{}, app, day1); !got.IsZero() || Complete(app) {
		t.Fatalf("a material awaiting review: %v", got)
	}
	app.Materials[card.MatHukou] = card.Provided
	if got := completeAt(time.Time{}, app, day2); !got.Equal(day2) {
		t.Fatalf("the last material accepted: %v", got)
	}
	if got := completeAt(day1, app, day2); !got.Equal(day1) {
		t.Fatalf("complete already: %v, want the first day", got)
	}
	app.Materials[card.MatHukou] = card.Deficient
	app.MaterialNotes = map[card.Material]string{card.MatHukou: "模糊"}
	if got := completeAt(day1, app, day2); !got.IsZero() {
		t.Fatalf("found deficient: %v, want the clock stopped", got)
	}
}
