package main

import (
	"fmt"
	"time"

	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/workday"
)

// calendarCheck loads the working-day calendar serve would use (the file,
// or the built-in one) and reports the years among the current and the
// next (Beijing time) whose holidays it does not list: the Art. 19 time
// limits would then count only weekends as days off. serve prints them at
// start and 'config check' as warnings.
func calendarCheck(path string, now time.Time) (warnings []string, err error) {
	cal := workday.Default()
	name := "the built-in working-day calendar"
	if path != "" {
		if cal, err = workday.Load(path); err != nil {
			return nil, fmt.Errorf("calendar: %w", err)
		}
		name = "the working-day calendar " + path
	}
	y := now.In(lifecycle.China).Year()
	for _, yr := range []int{y, y + 1} {
		if !cal.Covers(yr) {
			warnings = append(warnings, fmt.Sprintf("calendar: %s does not list the holidays of %d: the Art. 19 time limits count only weekends as days off in %d; add the year's holidays and adjusted working days from the State Council's notice (--calendar, as workday/calendar.toml)", name, yr, yr))
		}
	}
	return warnings, nil
}
