package lifecycle

import (
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/workday"
)

// Deadline is an application's Art. 19 time limit: 10 working days when
// the facts can be verified in the province, 20 when another province
// must verify, counted from the day after it was received.
type Deadline struct {
	Limit int       // working days
	Due   time.Time // the last day
	Left  int       // working days left today; negative when overdue
}

// Overdue reports whether the time limit has passed.
func (d Deadline) Overdue() bool { return d.Left < 0 }

// DeadlineOf computes a card application's time limit on a calendar.
func DeadlineOf(cal *workday.Calendar, c *card.Card, app *card.Applicant, today time.Time) Deadline {
	limit := workday.Limit(app.OtherProvinceVer)
	due := cal.Due(c.CreatedAt.In(China), limit)
	return Deadline{Limit: limit, Due: due, Left: cal.Left(today.In(China), due)}
}
