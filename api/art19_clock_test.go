package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/store/storetest"
)

// Tests of the Art. 19 clock (issue 14): the time limit counts from the
// day the file became complete, and cross-province verification is
// staff's finding with a reason. Through the real router, on SQLite and
// PostgreSQL.

// clockSession is an API session of username valid at the test clock's
// time (env.session's expiry is of the wall clock, which the test clock
// leaves behind when it moves on by days).
func (v *env) clockSession(t *testing.T, username string) string {
	t.Helper()
	ctx := context.Background()
	u, err := v.st.GetUserByName(ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	now := v.clock.Now()
	if err := v.st.CreateSession(ctx, staff.Session{TokenHash: staff.HashToken(tok), UserID: u.ID, Kind: staff.APISession,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// cardJSON reads a card's summary through the API.
func (v *env) cardJSON(t *testing.T, tok, id string) CardView {
	t.Helper()
	r := v.do(http.MethodGet, "/api/v1/cards/"+id, tok, "", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("get card: %d %s", r.Code, r.body)
	}
	var c CardView
	r.json(t, &c)
	return c
}

// queueDeadline is the card's row of GET /api/v1/queue/deadlines.
func (v *env) queueDeadline(t *testing.T, tok, id string) DeadlineView {
	t.Helper()
	r := v.do(http.MethodGet, "/api/v1/queue/deadlines?limit=100", tok, "", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("deadlines: %d %s", r.Code, r.body)
	}
	var body struct{ Cards []DeadlineView }
	r.json(t, &body)
	for _, d := range body.Cards {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("card %s not in the queue's deadlines: %s", id, r.body)
	return DeadlineView{}
}

// trackJSON is what the citizen's tracking check answers.
func (v *env) trackJSON(t *testing.T, number, idNumber string) ApplicationView {
	t.Helper()
	r := v.do(http.MethodGet, "/api/v1/applications/"+number+"?id_number="+idNumber, "", "", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("track: %d %s", r.Code, r.body)
	}
	var a ApplicationView
	r.json(t, &a)
	return a
}

// trackPage is the citizen's /track page.
func (v *env) trackPage(t *testing.T, number, idNumber string) string {
	t.Helper()
	r := v.do(http.MethodPost, "/track", "", "application/x-www-form-urlencoded", []byte(url.Values{"number": {number}, "id_number": {idNumber}}.Encode()))
	if r.Code != http.StatusOK {
		t.Fatalf("track page: %d %s", r.Code, r.body)
	}
	return string(r.body)
}

// auditDetail returns the detail of the card's newest event of act.
func (v *env) auditDetail(t *testing.T, cardID string, act audit.Action) string {
	t.Helper()
	evs, err := v.st.AuditEvents(context.Background(), cardID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Action == act {
			return string(e.Detail)
		}
	}
	t.Fatalf("card %s: no %s event", cardID, act)
	return ""
}

// TestArt19ClockStartsWhenFileComplete: an application complete when
// taken is handled at once, its 10 working days counted from that day; an
// incomplete one has no due date while materials are missing (its
// one-time notice promises the limit from the day they are complete), and
// its clock starts the day the last material is accepted — at the
// counter (PUT materials) or by the review of a material the citizen sent
// after the notice. The due date is the same in the card's JSON, the
// queue's deadlines, the console's card page, the citizen's tracking
// answer and page, and the online receipt.
func TestArt19ClockStartsWhenFileComplete(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		cal := v.svc.WorkCalendar()
		day0 := v.clock.Now()
		dueFrom := func(t0 time.Time) string { return cal.Due(t0.In(lifecycle.China), 10).Format("2006-01-02") }
		tok := v.clockSession(t, "220102001001")

		// Complete at once: 即时办理, the clock runs from today.
		whole := v.create(t, coupleApplicant(t, 60))
		if whole.CompleteAt == nil || whole.Due != dueFrom(day0) {
			t.Fatalf("complete application: complete_at %v, due %q, want %s", whole.CompleteAt, whole.Due, dueFrom(day0))
		}
		// Incomplete at the counter: no due date yet.
		part := v.create(t, coupleApplicant(t, 61, incomplete))
		if part.CompleteAt != nil || part.Due != "" {
			t.Fatalf("incomplete application: complete_at %v, due %q", part.CompleteAt, part.Due)
		}
		if d := v.queueDeadline(t, tok, part.ID); d.Complete != nil || d.Due != "" || d.Overdue || d.DaysLeft != 10 {
			t.Fatalf("queue deadline of an incomplete file: %+v", d)
		}
		if tr := v.trackJSON(t, part.Number, husbandID(61)); tr.Due != "" || tr.LimitWorkingDays != 10 {
			t.Fatalf("tracking an incomplete file: due %q, limit %d", tr.Due, tr.LimitWorkingDays)
		}
		// Online, nothing sent yet: the receipt has no date either.
		r := v.applyOnline(t, coupleApp(t, 62, "220102001001", func(a *card.Applicant) {
			a.Materials = map[card.Material]card.MaterialState{card.MatIDCards: card.Missing, card.MatHukou: card.Missing, card.MatMarriage: card.PopulationDB}
		}), nil)
		if r.Code != http.StatusCreated {
			t.Fatalf("apply online: %d %s", r.Code, r.body)
		}
		var receipt ApplicationView
		r.json(t, &receipt)
		if receipt.Due != "" || receipt.LimitWorkingDays != 10 {
			t.Fatalf("receipt of an incomplete application: due %q, limit %d", receipt.Due, receipt.LimitWorkingDays)
		}
		online, err := v.st.GetCardByNumber(context.Background(), receipt.Number)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{part.ID, online.ID} {
			if r := v.do(http.MethodPost, "/api/v1/cards/"+id+"/notice", tok, "", nil); r.Code != http.StatusCreated {
				t.Fatalf("one-time notice: %d %s", r.Code, r.body)
			}
		}

		// Two weeks later the materials come: the counter records the
		// missing household register; the citizen sends the ID cards,
		// which staff accept.
		v.clock.Add(14 * 24 * time.Hour)
		day14 := v.clock.Now()
		want := dueFrom(day14)
		if want == dueFrom(day0) {
			t.Fatalf("calendar: the due dates from %s and %s coincide", day0, day14)
		}
		tok = v.clockSession(t, "220102001001")
		b := mustJSON(t, MaterialsRequest{Materials: map[card.Material]card.MaterialState{
			card.MatIDCards: card.Provided, card.MatHukou: card.Provided, card.MatMarriage: card.PopulationDB}})
		if r := v.do(http.MethodPut, "/api/v1/cards/"+part.ID+"/materials", tok, "application/json", b); r.Code != http.StatusOK {
			t.Fatalf("materials: %d %s", r.Code, r.body)
		}
		if _, err := v.svc.Resubmit(context.Background(), receipt.Number, wifeID(62), "192.0.2.50", []lifecycle.Upload{
			{Material: card.MatIDCards, ContentType: "image/png", Data: pngBytes(t)},
			{Material: card.MatHukou, ContentType: "image/png", Data: pngBytes(t)},
		}); err != nil {
			t.Fatalf("resubmit: %v", err)
		}
		if c := v.cardJSON(t, tok, online.ID); c.CompleteAt != nil || c.Due != "" {
			t.Fatalf("materials awaiting review: complete_at %v, due %q", c.CompleteAt, c.Due)
		}
		for i, m := range []card.Material{card.MatIDCards, card.MatHukou} {
			if r := v.postJSON("/api/v1/cards/"+online.ID+"/materials/"+string(m)+"/review", tok, ReviewRequest{Accept: true}); r.Code != http.StatusOK {
				t.Fatalf("review: %d %s", r.Code, r.body)
			}
			if c := v.cardJSON(t, tok, online.ID); (c.CompleteAt != nil) != (i == 1) {
				t.Fatalf("after accepting %s: complete_at %v", m, c.CompleteAt)
			}
		}
		if d := v.auditDetail(t, online.ID, audit.CardReview); !strings.Contains(d, `"complete":true`) {
			t.Errorf("the review that completed the file: %s", d)
		}
		if d := v.auditDetail(t, part.ID, audit.CardMaterials); !strings.Contains(d, `"complete":true`) {
			t.Errorf("the materials change that completed the file: %s", d)
		}

		ck := v.consoleAs(t, "220102001001")
		for _, x := range []struct {
			name, id, number, wifeOrHusband string
		}{{"counter", part.ID, part.Number, husbandID(61)}, {"online", online.ID, receipt.Number, wifeID(62)}} {
			c := v.cardJSON(t, tok, x.id)
			if c.CompleteAt == nil || !c.CompleteAt.Equal(day14.UTC().Truncate(time.Microsecond)) || c.Due != want {
				t.Errorf("%s: card complete_at %v, due %q; want %s, %s", x.name, c.CompleteAt, c.Due, day14, want)
			}
			if d := v.queueDeadline(t, tok, x.id); d.Due != want || d.Complete == nil || d.Limit != 10 {
				t.Errorf("%s: queue deadline %+v, want due %s", x.name, d, want)
			}
			if tr := v.trackJSON(t, x.number, x.wifeOrHusband); tr.Due != want {
				t.Errorf("%s: tracking due %q, want %s", x.name, tr.Due, want)
			}
			if p := v.trackPage(t, x.number, x.wifeOrHusband); !strings.Contains(p, want) {
				t.Errorf("%s: the track page does not show %s: %s", x.name, want, grepLines(p, "办结"))
			}
			page := string(ck.get("/console/cards/" + x.id).body)
			if !strings.Contains(page, "办结期限 "+want) || !strings.Contains(page, "材料齐全之日 "+day14.In(lifecycle.China).Format("2006-01-02")) {
				t.Errorf("%s: the console's card page, want %s from %s: %s", x.name, want, day14.In(lifecycle.China).Format("2006-01-02"), grepLines(page, "办结"))
			}
		}
		// The application complete when taken keeps its day.
		if c := v.cardJSON(t, tok, whole.ID); c.Due != dueFrom(day0) {
			t.Errorf("complete at once: due %q, want %s", c.Due, dueFrom(day0))
		}
		if page := string(ck.get("/console/cards/" + whole.ID).body); !strings.Contains(page, "办结期限 "+dueFrom(day0)) {
			t.Errorf("complete at once, console: %s", grepLines(page, "办结"))
		}
		// A file found incomplete after all stops the clock.
		b = mustJSON(t, MaterialsRequest{Materials: map[card.Material]card.MaterialState{
			card.MatIDCards: card.Provided, card.MatHukou: card.Missing, card.MatMarriage: card.PopulationDB}})
		if r := v.do(http.MethodPut, "/api/v1/cards/"+whole.ID+"/materials", tok, "application/json", b); r.Code != http.StatusOK {
			t.Fatalf("materials: %d %s", r.Code, r.body)
		}
		if c := v.cardJSON(t, tok, whole.ID); c.CompleteAt != nil || c.Due != "" {
			t.Errorf("found incomplete: complete_at %v, due %q", c.CompleteAt, c.Due)
		}
		if page := string(ck.get("/console/cards/" + whole.ID).body); !strings.Contains(page, "材料尚未齐全") {
			t.Errorf("found incomplete, console: %s", grepLines(page, "办结"))
		}
	})
}

// TestArt19CrossProvinceFlag: whether another province must verify is
// staff's finding with a reason — never a field of the application —
// recorded by the level reviewing the application through the JSON API or
// the console's card page (one lifecycle call), audited with its reason;
// the time limit is then 20 working days from the day the file was
// complete, and 10 again when staff find it need not. A finding without
// a reason, from another jurisdiction, or on a card no longer under
// review is refused and changes nothing.
func TestArt19CrossProvinceFlag(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		cal := v.svc.WorkCalendar()
		day0 := v.clock.Now().In(lifecycle.China)
		due := func(n int) string { return cal.Due(day0, n).Format("2006-01-02") }
		village := v.session("220102001001")

		// The application cannot claim it: the field is unknown.
		before := v.cardsOf(t, "220102001001")
		b := bytes.Replace(coupleApplicant(t, 70), []byte(`"village"`), []byte(`"other_province_verification":true,"village"`), 1)
		if !bytes.Contains(b, []byte("other_province_verification")) {
			t.Fatal("test application not changed")
		}
		r := v.do(http.MethodPost, "/api/v1/cards", village, "application/json", b)
		if r.Code != http.StatusBadRequest && r.Code != http.StatusUnprocessableEntity {
			t.Fatalf("an application claiming cross-province verification: %d %s", r.Code, r.body)
		}
		if n := v.cardsOf(t, "220102001001"); n != before {
			t.Fatalf("%d cards after a refused application, want %d", n, before)
		}

		c := v.create(t, coupleApplicant(t, 71))
		if c.CrossProvince || c.Due != due(10) {
			t.Fatalf("new card: cross_province %t, due %q, want %s", c.CrossProvince, c.Due, due(10))
		}
		path := "/api/v1/cards/" + c.ID + "/cross-province"
		const reason = "女方户籍在黑龙江省，婚育情况需户籍地核实"
		// No reason: refused, nothing changes.
		expectProblem(t, v.postJSON(path, village, CrossProvinceRequest{CrossProvince: true, Reason: "  "}), http.StatusUnprocessableEntity, "reason-required")
		// Another township's staff: not their jurisdiction.
		if r := v.postJSON(path, v.session("220102002"), CrossProvinceRequest{CrossProvince: true, Reason: reason}); r.Code != http.StatusForbidden {
			t.Fatalf("another jurisdiction: %d %s", r.Code, r.body)
		}
		if got := v.cardJSON(t, village, c.ID); got.CrossProvince || got.Version != c.Version || v.countAudit(t, c.ID, audit.CardCrossProvince) != 0 {
			t.Fatalf("refused findings changed the card: %+v", got)
		}

		r = v.postJSON(path, village, CrossProvinceRequest{CrossProvince: true, Reason: reason})
		if r.Code != http.StatusOK {
			t.Fatalf("cross-province: %d %s", r.Code, r.body)
		}
		var got CardView
		r.json(t, &got)
		if !got.CrossProvince || got.CrossProvinceReason != reason || got.Due != due(20) {
			t.Fatalf("after the finding: %t %q due %q, want %s", got.CrossProvince, got.CrossProvinceReason, got.Due, due(20))
		}
		if d := v.queueDeadline(t, village, c.ID); d.Limit != 20 || d.Due != due(20) || !d.CrossProvince {
			t.Fatalf("queue deadline: %+v", d)
		}
		if tr := v.trackJSON(t, c.Number, husbandID(71)); tr.Due != due(20) || tr.LimitWorkingDays != 20 {
			t.Fatalf("tracking: due %q, limit %d", tr.Due, tr.LimitWorkingDays)
		}
		if d := v.auditDetail(t, c.ID, audit.CardCrossProvince); !strings.Contains(d, reason) || !strings.Contains(d, `"cross_province":true`) {
			t.Fatalf("audit: %s", d)
		}

		// The console's card page shows the finding and its form; the
		// form records the opposite finding with its reason.
		ck := v.consoleAs(t, "220102001001")
		page := string(ck.get("/console/cards/" + c.ID).body)
		if !strings.Contains(page, `id="form-cross-province"`) || !strings.Contains(page, reason) || !strings.Contains(page, "办结期限 "+due(20)) {
			t.Fatalf("card page: %s", grepLines(page, "外省"))
		}
		if r := ck.post("/console/cards/"+c.ID+"/cross-province", url.Values{"reason": {" "}}); r.Code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(r.body), "外省核实未登记：请填写理由") || !strings.Contains(string(r.body), `id="form-cross-province"`) {
			t.Fatalf("a finding without a reason: %d, not the card page with the error", r.Code)
		}
		if r := ck.post("/console/cards/"+c.ID+"/cross-province", url.Values{"reason": {"经核实户籍已迁入本省"}}); r.Code != http.StatusSeeOther {
			t.Fatalf("console finding: %d %s", r.Code, r.body)
		}
		if got := v.cardJSON(t, village, c.ID); got.CrossProvince || got.CrossProvinceReason != "经核实户籍已迁入本省" || got.Due != due(10) {
			t.Fatalf("after the console's finding: %+v", got)
		}
		if n := v.countAudit(t, c.ID, audit.CardCrossProvince); n != 2 {
			t.Fatalf("%d cross-province events, want 2", n)
		}

		// A refused application is no longer under review.
		if r := v.postJSON("/api/v1/cards/"+c.ID+"/refuse", village, RefuseRequest{Reasons: []string{"不符合办理条件"}}); r.Code != http.StatusCreated {
			t.Fatalf("refuse: %d %s", r.Code, r.body)
		}
		if r := v.postJSON(path, village, CrossProvinceRequest{CrossProvince: true, Reason: reason}); r.Code != http.StatusConflict {
			t.Fatalf("finding on a refused card: %d %s", r.Code, r.body)
		}
	})
}
