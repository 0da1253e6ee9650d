package api

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/lifecycle"
)

// The permission table of issue 13: who may do what to a card, for every
// level of staff (village, township, county, and the demo "admin", a
// county user), a card of their own jurisdiction or another's, every
// state of a card and every action of lifecycle.Actions. The answers are
// written here from the rules (docs/regulation-map.md) and issue 12
// (M2, M3), not read off the code; TestPermissionTable runs every row
// through the domain (lifecycle.Allowed and the Service on the in-memory
// registry), the JSON API and the console, and all three must give the
// row's answer.
//
// The answers:
//
//	ok      allowed
//	juris   the card lies outside the actor's jurisdiction (ErrForbidden)
//	level   the actor's level never may (ErrLevel)
//	turn    the card awaits a lower level's seal first (ErrWrongLevel)
//	sealed  the actor's level has sealed it already (ErrSealed)
//	passed  the card has moved past the actor's level (ErrStagePassed)
//	state   the card's status does not allow it (ErrState)
//	none    the export or the overdue report leaves the card out
//
// Where more than one holds, the table gives the first of: level (the
// actor could never), juris (not theirs), state, then turn, sealed or
// passed — the most basic reason first.
//
// The states (columns): a draft awaiting the village's, the township's or
// the county's seal; issued; voided (Art. 22), revoked (Art. 20),
// superseded (Art. 16); refused (Art. 11). Every card is a re-birth
// application (the re-birth approval form exists for no other) of a new
// couple, with one material missing, so a one-time notice may be given.
// For the export and the report the row asks whether the actor's export
// (issued cards of its county, Art. 23) or overdue report (drafts past
// their time limit, Art. 19, 24; read 90 days after the cards were made)
// includes the card. Taking an application concerns no card yet: its
// one column is the village the application names.
var permTable = map[lifecycle.Action]string{
	// Art. 3: the couple applies at the village; Art. 14, 15: also at the
	// township's or the county's hall, for a village of theirs.
	lifecycle.TakeApplication: `
		                -
		village own     ok
		village other   juris
		township own    ok
		township other  juris
		county own      ok
		county other    juris
		admin own       ok
		admin other     juris`,

	// Art. 15: all three levels see the application at once, and staff
	// keep reading it after it ends; Art. 13: never another
	// jurisdiction's.
	lifecycle.ReadCard: `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     ok     ok     ok     ok     ok     ok      ok         ok
		village other   juris  juris  juris  juris  juris  juris   juris      juris
		township own    ok     ok     ok     ok     ok     ok      ok         ok
		township other  juris  juris  juris  juris  juris  juris   juris      juris
		county own      ok     ok     ok     ok     ok     ok      ok         ok
		county other    juris  juris  juris  juris  juris  juris   juris      juris
		admin own       ok     ok     ok     ok     ok     ok      ok         ok
		admin other     juris  juris  juris  juris  juris  juris   juris      juris`,

	// Art. 15: seals level by level (逐级), each level once, on a draft.
	lifecycle.SealCard: `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     ok     sealed sealed state  state  state   state      state
		village other   juris  juris  juris  juris  juris  juris   juris      juris
		township own    turn   ok     sealed state  state  state   state      state
		township other  juris  juris  juris  juris  juris  juris   juris      juris
		county own      turn   turn   ok     state  state  state   state      state
		county other    juris  juris  juris  juris  juris  juris   juris      juris
		admin own       turn   turn   ok     state  state  state   state      state
		admin other     juris  juris  juris  juris  juris  juris   juris      juris`,

	// Art. 15 (网上同时审核): every level of the jurisdiction approves at
	// any time while the application is under review, until it has
	// sealed; the seal follows the level below's (at once when it is the
	// level's turn).
	lifecycle.ApproveCard: `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     ok     sealed sealed state  state  state   state      state
		village other   juris  juris  juris  juris  juris  juris   juris      juris
		township own    ok     ok     sealed state  state  state   state      state
		township other  juris  juris  juris  juris  juris  juris   juris      juris
		county own      ok     ok     ok     state  state  state   state      state
		county other    juris  juris  juris  juris  juris  juris   juris      juris
		admin own       ok     ok     ok     state  state  state   state      state
		admin other     juris  juris  juris  juris  juris  juris   juris      juris`,

	// Art. 8-10, 19 and issue 12 M3: while the application is under
	// review, the level whose turn it is or a higher one of the same
	// jurisdiction; never a lower level once the card moved past it.
	lifecycle.ChangeMaterials: underReview,
	// Art. 15, 19: reviewing one material sent (accepted or deficient)
	// changes the materials: the same levels as changing them.
	lifecycle.ReviewMaterial: underReview,
	lifecycle.GiveNotice:     underReview,
	lifecycle.RefuseCard:     underReview,
	// Art. 19: whether another province must verify (20 working days) is
	// the finding of the level reviewing the application, or a higher one.
	lifecycle.MarkCrossProvince: underReview,

	// Art. 22, 20, 16: the issuing county ends an issued card.
	lifecycle.VoidCard:      countyEndsIssued,
	lifecycle.RevokeCard:    countyEndsIssued,
	lifecycle.SupersedeCard: countyEndsIssued,

	// Art. 6, 17: the county reviews re-birth cases and draws up the
	// approval form from a pre-reviewed application, while it is under
	// review.
	lifecycle.DrawForm: `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     level  level  level  level  level  level   level      level
		village other   level  level  level  level  level  level   level      level
		township own    level  level  level  level  level  level   level      level
		township other  level  level  level  level  level  level   level      level
		county own      ok     ok     ok     state  state  state   state      state
		county other    juris  juris  juris  juris  juris  juris   juris      juris
		admin own       ok     ok     ok     state  state  state   state      state
		admin other     juris  juris  juris  juris  juris  juris   juris      juris`,

	// Art. 17: every level seals the form once, in any order; the village
	// and the township may add theirs after the county issued the card
	// (补盖). Issue 12 M2: never once the card was refused or ended.
	lifecycle.SealForm: `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     ok     ok     ok     ok     state  state   state      state
		village other   juris  juris  juris  juris  juris  juris   juris      juris
		township own    ok     ok     ok     ok     state  state   state      state
		township other  juris  juris  juris  juris  juris  juris   juris      juris
		county own      ok     ok     ok     ok     state  state   state      state
		county other    juris  juris  juris  juris  juris  juris   juris      juris
		admin own       ok     ok     ok     ok     state  state   state      state
		admin other     juris  juris  juris  juris  juris  juris   juris      juris`,

	// Art. 17: the village and the township report a re-birth
	// application to the county (预审上报) while no level has sealed it;
	// once sealed, it follows the ordinary chain.
	lifecycle.PreReview: `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     ok     state  state  state  state  state   state      state
		village other   juris  juris  juris  juris  juris  juris   juris      juris
		township own    ok     state  state  state  state  state   state      state
		township other  juris  juris  juris  juris  juris  juris   juris      juris
		county own      level  level  level  level  level  level   level      level
		county other    level  level  level  level  level  level   level      level
		admin own       level  level  level  level  level  level   level      level
		admin other     level  level  level  level  level  level   level      level`,

	// Art. 17: the county issues a reported re-birth application
	// directly, with its seal alone, before any seal (the card here is
	// on the pre-review list).
	lifecycle.IssueDirect: `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     level  level  level  level  level  level   level      level
		village other   level  level  level  level  level  level   level      level
		township own    level  level  level  level  level  level   level      level
		township other  level  level  level  level  level  level   level      level
		county own      ok     state  state  state  state  state   state      state
		county other    juris  juris  juris  juris  juris  juris   juris      juris
		admin own       ok     state  state  state  state  state   state      state
		admin other     juris  juris  juris  juris  juris  juris   juris      juris`,

	// Art. 23: every level exports its own jurisdiction's cards for the
	// population database: every card that was issued, with its status
	// now (voided, revoked, superseded too); never a draft or a refusal.
	lifecycle.ExportCards: `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     none   none   none   ok     ok     ok      ok         none
		village other   none   none   none   none   none   none    none       none
		township own    none   none   none   ok     ok     ok      ok         none
		township other  none   none   none   none   none   none    none       none
		county own      none   none   none   ok     ok     ok      ok         none
		county other    none   none   none   none   none   none    none       none
		admin own       none   none   none   ok     ok     ok      ok         none
		admin other     none   none   none   none   none   none    none       none`,

	// Art. 20: the county's file of revoked cards for the social credit
	// system lists its revoked cards, and only those.
	lifecycle.ExportCredit: `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     level  level  level  level  level  level   level      level
		village other   level  level  level  level  level  level   level      level
		township own    level  level  level  level  level  level   level      level
		township other  level  level  level  level  level  level   level      level
		county own      none   none   none   none   none   ok      none       none
		county other    none   none   none   none   none   none    none       none
		admin own       none   none   none   none   none   ok      none       none
		admin other     none   none   none   none   none   none    none       none`,

	// Art. 16: staff of the jurisdiction record that the official card a
	// holder asked for by post was printed or posted; an issued card only.
	lifecycle.PostCard: `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     state  state  state  ok     state  state   state      state
		village other   juris  juris  juris  juris  juris  juris   juris      juris
		township own    state  state  state  ok     state  state   state      state
		township other  juris  juris  juris  juris  juris  juris   juris      juris
		county own      state  state  state  ok     state  state   state      state
		county other    juris  juris  juris  juris  juris  juris   juris      juris
		admin own       state  state  state  ok     state  state   state      state
		admin other     juris  juris  juris  juris  juris  juris   juris      juris`,

	// Art. 9, 23: the county imports its own population-register extract
	// and compares its cards with it; the column is the county of the
	// row's village.
	lifecycle.ManagePopulation: `
		                -
		village own     level
		village other   level
		township own    level
		township other  level
		county own      ok
		county other    juris
		admin own       ok
		admin other     juris`,

	// Art. 19, 24: the county's report of its applications past their
	// time limit.
	lifecycle.ReadReports: `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     level  level  level  level  level  level   level      level
		village other   level  level  level  level  level  level   level      level
		township own    level  level  level  level  level  level   level      level
		township other  level  level  level  level  level  level   level      level
		county own      ok     ok     ok     none   none   none    none       none
		county other    none   none   none   none   none   none    none       none
		admin own       ok     ok     ok     none   none   none    none       none
		admin other     none   none   none   none   none   none    none       none`,
}

// cardless are the actions on no card: one column, the row's village
// (an application's) or its county (a population-register extract's).
var cardless = map[lifecycle.Action]bool{lifecycle.TakeApplication: true, lifecycle.ManagePopulation: true}

const underReview = `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     ok     passed passed state  state  state   state      state
		village other   juris  juris  juris  juris  juris  juris   juris      juris
		township own    ok     ok     passed state  state  state   state      state
		township other  juris  juris  juris  juris  juris  juris   juris      juris
		county own      ok     ok     ok     state  state  state   state      state
		county other    juris  juris  juris  juris  juris  juris   juris      juris
		admin own       ok     ok     ok     state  state  state   state      state
		admin other     juris  juris  juris  juris  juris  juris   juris      juris`

const countyEndsIssued = `
		                d@v    d@t    d@c    issued voided revoked superseded refused
		village own     level  level  level  level  level  level   level      level
		village other   level  level  level  level  level  level   level      level
		township own    level  level  level  level  level  level   level      level
		township other  level  level  level  level  level  level   level      level
		county own      state  state  state  ok     state  state   state      state
		county other    juris  juris  juris  juris  juris  juris   juris      juris
		admin own       state  state  state  ok     state  state   state      state
		admin other     juris  juris  juris  juris  juris  juris   juris      juris`

// permStates are the table's columns.
var permStates = []string{"d@v", "d@t", "d@c", "issued", "voided", "revoked", "superseded", "refused"}

// permAnswers are the answers a cell may hold.
var permAnswers = []string{"ok", "juris", "level", "turn", "sealed", "passed", "state", "none"}

// permActor is one row group: a staff account and the villages of the
// cards of its own and of another jurisdiction.
type permActor struct {
	name, username, org string
	own, other          string
}

// permActors: another jurisdiction is a village of another township for
// the village and the township (the same county: the prefix rule must
// tell them apart), and a village of another county for the county.
var permActors = []permActor{
	{"village", "220102001001", "220102001001", "220102001001", "220102002001"},
	{"township", "220102001", "220102001", "220102001001", "220102002001"},
	{"county", "220102", "220102", "220102001001", "220103001001"},
	{"admin", "admin", "220102", "220102001001", "220103001001"},
}

// permRow is one row of the table.
type permRow struct {
	act   lifecycle.Action
	actor permActor
	other bool
	state string // "" when taking an application
	want  string
}

func (r permRow) village() string {
	if r.other {
		return r.actor.other
	}
	return r.actor.own
}

func (r permRow) String() string {
	rel := "own"
	if r.other {
		rel = "other"
	}
	st := r.state
	if st == "" {
		st = "-"
	}
	return fmt.Sprintf("%s/%s/%s_%s", r.act, st, r.actor.name, rel)
}

// permRows parses the table into rows, in the order of lifecycle.Actions,
// failing on a malformed or missing grid.
func permRows(t *testing.T) []permRow {
	t.Helper()
	actors := map[string]permActor{}
	for _, a := range permActors {
		actors[a.name] = a
	}
	var rows []permRow
	for _, act := range lifecycle.Actions {
		grid, ok := permTable[act]
		if !ok {
			t.Fatalf("the permission table has no grid for action %q", act)
		}
		lines := strings.Split(strings.TrimSpace(grid), "\n")
		header := strings.Fields(lines[0])
		states := permStates
		if cardless[act] {
			states = []string{""}
			if len(header) != 1 || header[0] != "-" {
				t.Fatalf("%s: header %v, want -", act, header)
			}
		} else if strings.Join(header, " ") != strings.Join(permStates, " ") {
			t.Fatalf("%s: header %v, want %v", act, header, permStates)
		}
		if len(lines) != 1+2*len(permActors) {
			t.Fatalf("%s: %d rows, want %d", act, len(lines)-1, 2*len(permActors))
		}
		for i, line := range lines[1:] {
			f := strings.Fields(line)
			a, ok := actors[f[0]]
			wantRel := []string{"own", "other"}[i%2]
			if !ok || f[0] != permActors[i/2].name || len(f) != 2+len(states) || f[1] != wantRel {
				t.Fatalf("%s: malformed row %q (want %s %s and %d answers)", act, line, permActors[i/2].name, wantRel, len(states))
			}
			for j, ans := range f[2:] {
				if !slices.Contains(permAnswers, ans) {
					t.Fatalf("%s: unknown answer %q in %q", act, ans, line)
				}
				rows = append(rows, permRow{act: act, actor: a, other: wantRel == "other", state: states[j], want: ans})
			}
		}
	}
	if len(permTable) != len(lifecycle.Actions) {
		t.Fatalf("the table has %d grids for %d actions", len(permTable), len(lifecycle.Actions))
	}
	return rows
}
