// Package workday counts working days for the time limits of Art. 19:
// weekends and public holidays are not working days, except the weekend
// days a year's holiday notice makes working days (调休). The calendar is
// a TOML file; the embedded default covers the years it lists.
package workday

import (
	_ "embed"
	"fmt"
	"os"
	"time"

	"github.com/BurntSushi/toml"
)

//go:embed calendar.toml
var defaultCalendar []byte

// Time limits of Art. 19, in working days.
const (
	LimitInProvince    = 10
	LimitOtherProvince = 20
)

// Calendar knows the holidays and adjusted working days.
type Calendar struct {
	holidays map[string]bool
	workdays map[string]bool
	years    map[int]bool
}

type year struct {
	Holidays []string `toml:"holidays"`
	Workdays []string `toml:"workdays"`
}

// Default returns the embedded calendar.
func Default() *Calendar {
	c, err := Parse(defaultCalendar)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return c
}

// Load reads a calendar file.
func Load(path string) (*Calendar, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse reads a calendar: one table per year with holidays and workdays.
func Parse(b []byte) (*Calendar, error) {
	var m map[string]year
	if _, err := toml.Decode(string(b), &m); err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	c := &Calendar{holidays: map[string]bool{}, workdays: map[string]bool{}, years: map[int]bool{}}
	for y, v := range m {
		var yr int
		if _, err := fmt.Sscanf(y, "%d", &yr); err != nil {
			return nil, fmt.Errorf("calendar: table %q is not a year", y)
		}
		c.years[yr] = true
		for _, list := range []struct {
			days []string
			into map[string]bool
		}{{v.Holidays, c.holidays}, {v.Workdays, c.workdays}} {
			for _, d := range list.days {
				t, err := time.Parse("2006-01-02", d)
				if err != nil || t.Year() != yr {
					return nil, fmt.Errorf("calendar: %q in [%s] is not a date of that year", d, y)
				}
				list.into[d] = true
			}
		}
	}
	for d := range c.holidays {
		if c.workdays[d] {
			return nil, fmt.Errorf("calendar: %s is both a holiday and a working day", d)
		}
	}
	return c, nil
}

// Covers reports whether the calendar lists the year's holidays; for
// other years only weekends are known.
func (c *Calendar) Covers(year int) bool { return c.years[year] }

// IsWorkday reports whether the date (in its own location) is a working day.
func (c *Calendar) IsWorkday(t time.Time) bool {
	d := t.Format("2006-01-02")
	switch {
	case c.workdays[d]:
		return true
	case c.holidays[d]:
		return false
	}
	wd := t.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// Due returns the last day of a time limit of n working days counted
// from the day after received.
func (c *Calendar) Due(received time.Time, n int) time.Time {
	d := day(received)
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if c.IsWorkday(d) {
			n--
		}
	}
	return d
}

// Left returns the working days left until due, counted from today
// (today excluded); negative when overdue.
func (c *Calendar) Left(today, due time.Time) int {
	t, d := day(today), day(due)
	if !t.After(d) {
		n := 0
		for x := t.AddDate(0, 0, 1); !x.After(d); x = x.AddDate(0, 0, 1) {
			if c.IsWorkday(x) {
				n++
			}
		}
		return n
	}
	n := 0
	for x := d.AddDate(0, 0, 1); !x.After(t); x = x.AddDate(0, 0, 1) {
		if c.IsWorkday(x) {
			n--
		}
	}
	return n
}

// Limit is the Art. 19 time limit for an application.
func Limit(otherProvince bool) int {
	if otherProvince {
		return LimitOtherProvince
	}
	return LimitInProvince
}
