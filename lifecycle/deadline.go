package lifecycle

import (
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/workday"
)

// The Art. 19 clock. An application is decided within 10 working days,
// 20 when another province must verify the couple's facts, counted from
// the day after the file became complete (材料齐全) — not from the day it
// was received: a complete application is handled at once (即时办理), an
// incomplete one gets the one-time notice and its clock starts the day
// the last missing or deficient material is accepted. The file is
// complete when every required material is satisfied (provided, proven
// by the population register, or covered by the commitment) and none
// awaits review (card.Applicant.MissingMaterials is empty); an
// application taken at the counter without a materials record is
// complete when it is taken. Every change of the materials decides it
// again (completeAt): a file found incomplete after all stops the clock,
// and it starts afresh the day the file is complete again. Whether
// another province must verify is staff's finding with a reason
// (SetCrossProvince), never derived from the application. docs/time-limits.md.

// Deadline is an application's Art. 19 time limit.
type Deadline struct {
	Limit int // working days
	// Started is when the file became complete; zero while it is not
	// (the clock has not started).
	Started time.Time
	Due     time.Time // the last day; zero while the clock has not started
	Left    int       // working days left today; negative when overdue
}

// Running reports whether the clock has started.
func (d Deadline) Running() bool { return !d.Started.IsZero() }

// Overdue reports whether the time limit has passed.
func (d Deadline) Overdue() bool { return d.Running() && d.Left < 0 }

// DeadlineOf computes a card application's time limit on a calendar:
// from c.CompleteAt, 20 working days if c.CrossProvince, else 10. Before
// the file is complete, Due is zero and Left the whole limit.
func DeadlineOf(cal *workday.Calendar, c *card.Card, today time.Time) Deadline {
	d := Deadline{Limit: workday.Limit(c.CrossProvince), Started: c.CompleteAt}
	if !d.Running() {
		d.Left = d.Limit
		return d
	}
	d.Due = cal.Due(c.CompleteAt.In(China), d.Limit)
	d.Left = cal.Left(today.In(China), d.Due)
	return d
}

// Complete reports whether an application's file is complete: nothing
// missing, deficient or awaiting review.
func Complete(app *card.Applicant) bool { return len(app.MissingMaterials()) == 0 }

// completeAt is the time the file of app became complete, after a change
// at now of a card whose file became complete at prev (zero if it was
// not): prev if it was complete already, now if it becomes so, zero while
// it is not.
func completeAt(prev time.Time, app *card.Applicant, now time.Time) time.Time {
	switch {
	case !Complete(app):
		return time.Time{}
	case !prev.IsZero():
		return prev
	}
	return now
}

// DueDate is the due day as YYYY-MM-DD, "" while the clock has not
// started.
func (d Deadline) DueDate() string {
	if !d.Running() {
		return ""
	}
	return d.Due.Format("2006-01-02")
}

// StartDate is the day the file became complete, YYYY-MM-DD in China,
// "" while it is not.
func (d Deadline) StartDate() string {
	if !d.Running() {
		return ""
	}
	return d.Started.In(China).Format("2006-01-02")
}
