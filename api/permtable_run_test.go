package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/lifecycle/lifecycletest"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/store"
)

// TestPermissionTable runs every row of permTable three ways and checks
// that each gives the row's answer:
//   - the domain: lifecycle.Allowed, and the Service method that does the
//     action, over the in-memory registry (a fresh copy per row);
//   - the JSON API: the route of the action, through the real router,
//     with the actor's bearer session;
//   - the console: the page the action lives on must offer its control
//     exactly when the row says ok, and the form's POST (cookie session,
//     CSRF token, the seal password) must give the row's answer. Actions
//     the console has no door for (consoleDoors) are checked by the other
//     two only.
//
// Each way keeps its cards in one registry (the API and the console share
// a SQLite file): a row that changed its card (an allowed action) retires
// it and the next row gets a fresh one; a refused row must leave the card
// exactly as it was.
func TestPermissionTable(t *testing.T) {
	rows := permRows(t)
	ks, orgs := permKeys(t)
	dom := newPermDomain(t, ks, orgs)
	web := newPermWeb(t, ks, orgs)
	var wrong []string
	for _, r := range rows {
		ok := t.Run(r.String(), func(t *testing.T) {
			if ans, note := dom.answer(t, r); ans != r.want || note != "" {
				t.Errorf("domain answers %s, want %s%s", ans, r.want, note)
			}
			if ans, note := web.api(t, r); ans != r.want || note != "" {
				t.Errorf("JSON API answers %s, want %s%s", ans, r.want, note)
			}
			if ans, note, door := web.console(t, r); door && (ans != r.want || note != "") {
				t.Errorf("console answers %s, want %s%s", ans, r.want, note)
			}
		})
		if !ok {
			wrong = append(wrong, r.String())
		}
	}
	t.Logf("permission table: %d rows (%d actions, %d levels × 2 relations, %d card states), %d rows where an entry point disagrees with the table",
		len(rows), len(lifecycle.Actions), len(permActors), len(permStates), len(wrong))
	if len(wrong) > 0 {
		t.Errorf("rows that disagree:\n  %s", strings.Join(wrong, "\n  "))
	}
}

// consoleDoors are the console's controls for actions, by the route of
// their POST (or GET, for reading); actions absent here have no door in
// the console. TestConsoleDoorsInTable fails when a console route is not
// in this list, so a new door joins the table.
var consoleDoors = map[lifecycle.Action]string{
	lifecycle.TakeApplication:   "POST /console/new",
	lifecycle.ReadCard:          "GET /console/cards/:id",
	lifecycle.SealCard:          "POST /console/cards/:id/seal",
	lifecycle.ApproveCard:       "POST /console/cards/:id/approve",
	lifecycle.RefuseCard:        "POST /console/cards/:id/refuse",
	lifecycle.GiveNotice:        "POST /console/cards/:id/notice",
	lifecycle.ReviewMaterial:    "POST /console/cards/:id/materials/:material/review",
	lifecycle.VoidCard:          "POST /console/cards/:id/status",
	lifecycle.RevokeCard:        "POST /console/cards/:id/status",
	lifecycle.SupersedeCard:     "POST /console/cards/:id/status",
	lifecycle.ExportCredit:      "GET /console/reports/credit",
	lifecycle.PostCard:          "POST /console/postings/:id/:seq",
	lifecycle.PreReview:         "POST /console/cards/:id/pre-review",
	lifecycle.IssueDirect:       "POST /console/cards/:id/direct",
	lifecycle.MarkCrossProvince: "POST /console/cards/:id/cross-province",
	lifecycle.SealForm:          "POST /console/forms/:id/seal",
}

// consoleOther are the console's routes that do no action of the table.
var consoleOther = []string{
	"GET /console/login", "POST /console/login", "POST /console/logout", "GET /console", "GET /console/find",
	"GET /console/new", "GET /console/cards/:id/preview.png", "GET /console/cards/:id/pdf",
	"GET /console/cards/:id/seal", "GET /console/cards/:id/notices/:seq/pdf",
	"GET /console/cards/:id/files/:seq", "GET /console/postings",
	"GET /console/pre-reviews", "GET /console/cards/:id/direct",
	"GET /console/forms/:id/pdf", "GET /console/forms/:id/seal",
	// Issue 16: lists and the search, of the cards ReadCard allows.
	"GET /console/handled", "GET /console/closed", "POST /console/search",
}

// TestConsoleDoorsInTable checks that every console route is a door of
// consoleDoors or reads something those doors decide (consoleOther).
func TestConsoleDoorsInTable(t *testing.T) {
	v := newEnv(t, Options{})
	var doors []string
	for _, d := range consoleDoors {
		doors = append(doors, d)
	}
	for _, rt := range v.e.Routes() {
		r := rt.Method + " " + rt.Path
		if !strings.HasPrefix(rt.Path, "/console") || slices.Contains(doors, r) || slices.Contains(consoleOther, r) {
			continue
		}
		t.Errorf("console route %s is in neither consoleDoors nor consoleOther: add it to the permission table", r)
	}
}

// permKeys makes the keystore of the table's province: the demo province
// and a second county, so a county meets another county's cards.
func permKeys(t *testing.T) (*keys.FileStore, []org.Org) {
	t.Helper()
	orgs := append(slices.Clone(keys.Demo.Orgs),
		org.Org{Code: "220103", Level: org.County, Name: "长春市宽城区卫生健康局"},
		org.Org{Code: "220103001", Level: org.Township, Name: "新发街道办事处"},
		org.Org{Code: "220103001001", Level: org.Village, Name: "新发社区居民委员会"},
	)
	cfg := keys.ProvinceConfig{Province: keys.Demo.Province, RootName: keys.Demo.RootName, Orgs: orgs}
	dir := filepath.Join(t.TempDir(), "keys")
	pass := []byte("permission-table")
	if err := keys.InitDir(dir, cfg, pass, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	ks, err := keys.OpenDir(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	return ks, orgs
}

const permURL = "http://127.0.0.1:8080"

// permReportAt is when the overdue report is read: every draft made by
// the test is then past its time limit.
func permReportAt() time.Time { return time.Now().AddDate(0, 0, 90) }

var permCouples atomic.Int64

// permIDNumber is a valid resident ID number, different for every n and
// sex.
func permIDNumber(n int64, male bool) string {
	birth := time.Date(1986, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n))
	seq := 2 * (n % 50)
	if male {
		seq++
	}
	body := fmt.Sprintf("220102%s%03d", birth.Format("20060102"), seq)
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(body[i]-'0') * weights[i]
	}
	return body + string("10X98765432"[sum%11])
}

// permApplicant is a re-birth application of a new couple for the
// village, its status certificate still missing.
func permApplicant(village string) *card.Applicant {
	n := permCouples.Add(1)
	return &card.Applicant{
		Type:       card.Rebirth,
		Male:       card.Person{Name: "赵建国", IDNumber: permIDNumber(n, true), Hukou: "吉林省长春市南关区", Residence: "吉林省长春市南关区永安小区1栋"},
		Female:     card.Person{Name: "钱秀英", IDNumber: permIDNumber(n, false), Hukou: "吉林省长春市南关区", Residence: "吉林省长春市南关区永安小区1栋"},
		Marriage:   &card.Marriage{Date: "2012-10-01", CertNumber: "J220102-2012-" + strconv.FormatInt(n, 10)},
		StatusCert: &card.StatusCert{Number: "HY-" + strconv.FormatInt(n, 10), Issuer: "社区居民委员会"},
		ChildOrder: 3,
		// Art. 10: the couple made a commitment, so an issued card may
		// be revoked (Art. 20; a card without one is TestArt20…'s).
		Commitment: true,
		Channel:    card.ChannelSelf,
		Village:    village,
		Materials: map[card.Material]card.MaterialState{
			card.MatIDCards: card.Provided, card.MatHukou: card.Provided, card.MatMarriage: card.Provided, card.MatStatusCert: card.Missing,
		},
	}
}

// permAddress is where the holders want the official card (Art. 16).
var permAddress = lifecycle.PostalAddress{Recipient: "赵建国", Phone: "13800000000", Address: "吉林省长春市南关区永安小区1栋"}

// permMaterials completes the application.
var permMaterials = map[card.Material]card.MaterialState{
	card.MatIDCards: card.Provided, card.MatHukou: card.Provided, card.MatMarriage: card.Provided, card.MatStatusCert: card.Provided,
}

// ---- the table's cards

type permFixKey struct {
	village, state string
	form           bool // with a re-birth approval form, none of its seals applied
	posting        bool // with the holder's request to post the official card, once issued
	preReview      bool // reported to the county's pre-review list by the village (Art. 17)
	// complete: the file complete when taken, so its Art. 19 clock runs
	// and the overdue report can list it; else the status certificate
	// is missing, so a one-time notice may be given.
	complete bool
}

func (r permRow) key() permFixKey {
	return permFixKey{village: r.village(), state: r.state, form: r.act == lifecycle.SealForm, posting: r.act == lifecycle.PostCard,
		preReview: r.act == lifecycle.IssueDirect, complete: r.act == lifecycle.ReadReports}
}

type permFixture struct{ id, number, formID string }

// permFixtures makes the table's cards through a service, as staff do:
// apply, draw up the form, seal level by level, end or refuse.
type permFixtures struct {
	t     *testing.T
	svc   *lifecycle.Service
	reg   lifecycle.Registry
	cards map[permFixKey]permFixture
	repl  map[string]permFixture // county → an issued card that supersedes
}

// staffOf is a member of the organisation with the code.
func (f *permFixtures) staffOf(code string) lifecycle.Actor {
	f.t.Helper()
	o, err := f.reg.GetOrg(context.Background(), code)
	if err != nil {
		f.t.Fatal(err)
	}
	return lifecycle.Actor{Username: code, Org: o, RemoteAddr: "192.0.2.20"}
}

func (f *permFixtures) get(k permFixKey) permFixture {
	if fx, ok := f.cards[k]; ok {
		return fx
	}
	fx := f.build(k)
	f.cards[k] = fx
	return fx
}

// retire forgets the card of k: an action changed it.
func (f *permFixtures) retire(k permFixKey) { delete(f.cards, k) }

// replacement is an issued card of the village's county that supersedes
// others.
func (f *permFixtures) replacement(village string) permFixture {
	county := village[:6]
	if r, ok := f.repl[county]; ok {
		return r
	}
	r := f.build(permFixKey{village: village, state: "issued"})
	f.repl[county] = r
	return r
}

func (f *permFixtures) build(k permFixKey) permFixture {
	t := f.t
	t.Helper()
	ctx := context.Background()
	v, tw, c := f.staffOf(k.village), f.staffOf(k.village[:9]), f.staffOf(k.village[:6])
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("make a %+v card: %s: %v", k, what, err)
		}
	}
	app := permApplicant(k.village)
	if k.complete {
		app.Materials = maps.Clone(permMaterials)
	}
	sc, err := f.svc.Apply(ctx, v, app)
	must("apply", err)
	fx := permFixture{id: sc.ID, number: sc.Number}
	if k.form {
		form, err := f.svc.CreateRebirthForm(ctx, c, sc.ID, "村、乡预审名单", "符合再生育条件")
		must("draw up the form", err)
		fx.formID = form.ID
	}
	if k.preReview {
		_, err := f.svc.SubmitPreReview(ctx, v, sc.ID)
		must("report it to the pre-review list", err)
	}
	var sealers []lifecycle.Actor
	switch k.state {
	case "d@v", "refused":
	case "d@t":
		sealers = []lifecycle.Actor{v}
	case "d@c":
		sealers = []lifecycle.Actor{v, tw}
	case "issued", "voided", "revoked", "superseded":
		sealers = []lifecycle.Actor{v, tw, c}
	default:
		t.Fatalf("unknown state %q", k.state)
	}
	for _, a := range sealers {
		_, err := f.svc.Seal(ctx, a, sc.ID)
		must("seal as "+a.Username, err)
	}
	if k.posting && len(sealers) == 3 {
		_, err := f.svc.RequestPosting(ctx, sc.Number, app.Male.IDNumber, "192.0.2.21", permAddress)
		must("ask for the official card by post", err)
	}
	switch k.state {
	case "voided":
		_, err = f.svc.SetStatus(ctx, c, sc.ID, card.StatusVoided, "other", "权限表", lifecycle.CardRef{})
	case "revoked":
		_, err = f.svc.SetStatus(ctx, c, sc.ID, card.StatusRevoked, "other", "权限表", lifecycle.CardRef{})
	case "superseded":
		_, err = f.svc.SetStatus(ctx, c, sc.ID, card.StatusSuperseded, "other", "权限表", lifecycle.CardRef{ID: f.replacement(k.village).id})
	case "refused":
		_, err = f.svc.Refuse(ctx, v, sc.ID, []string{"权限表：不予办理"})
	}
	must("end it", err)
	got, err := f.reg.GetCard(ctx, sc.ID)
	must("read it back", err)
	want := map[string]string{"d@v": "draft village", "d@t": "draft township", "d@c": "draft county", "issued": "issued ",
		"voided": "voided ", "revoked": "revoked ", "superseded": "superseded ", "refused": "refused "}[k.state]
	if s := string(got.Status) + " " + string(got.NextLevel); s != want {
		t.Fatalf("a %+v card is %q, want %q", k, s, want)
	}
	return fx
}

// ---- the domain

// permWorld is a registry with its service and the table's cards in it.
type permWorld struct {
	reg lifecycle.Registry
	svc *lifecycle.Service
	fix *permFixtures
}

func newPermWorld(t *testing.T, reg lifecycle.Registry, svc *lifecycle.Service) permWorld {
	return permWorld{reg: reg, svc: svc, fix: &permFixtures{t: t, svc: svc, reg: reg, cards: map[permFixKey]permFixture{}, repl: map[string]permFixture{}}}
}

// print is what a refused action must not change: the card's version
// and status, its form's revision, its notices and the actions recorded
// on it (reads aside).
func (w *permWorld) print(t *testing.T, fx permFixture) string {
	ctx := context.Background()
	c, err := w.reg.GetCard(ctx, fx.id)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := w.reg.Notices(ctx, fx.id)
	if err != nil {
		t.Fatal(err)
	}
	form := -1
	if fx.formID != "" {
		f, err := w.reg.GetForm(ctx, fx.formID)
		if err != nil {
			t.Fatal(err)
		}
		form = f.Seq
	}
	evs, err := w.reg.AuditEvents(ctx, fx.id, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, ev := range evs {
		if ev.Action != audit.CardRead {
			acts = append(acts, string(ev.Action))
		}
	}
	return fmt.Sprintf("version %d, %s, form revision %d, %d notices, recorded %v", c.Version, c.Status, form, len(ns), acts)
}

// act runs do on the row's card (none for an application) and retires
// the card if do changed it; a refused action that changed it is noted.
func (w *permWorld) act(t *testing.T, r permRow, do func(fx permFixture) string) (ans, note string) {
	if cardless[r.act] {
		return do(permFixture{}), ""
	}
	w.fix.t = t
	k := r.key()
	fx := w.fix.get(k)
	before := w.print(t, fx)
	ans = do(fx)
	if after := w.print(t, fx); after != before {
		w.fix.retire(k)
		if ans != "ok" {
			note = fmt.Sprintf(" (refused, yet the card went from %s to %s)", before, after)
		}
	}
	return ans, note
}

// permDomain answers rows through lifecycle over the in-memory registry.
type permDomain struct{ permWorld }

func newPermDomain(t *testing.T, ks *keys.FileStore, orgs []org.Org) *permDomain {
	reg := lifecycletest.NewRegistry()
	for _, o := range orgs {
		if err := reg.CreateOrg(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	return &permDomain{newPermWorld(t, reg, lifecycle.NewService(reg, ks, permURL))}
}

// permErrors are the rules' refusals by answer.
var permErrors = []struct {
	err error
	ans string
}{
	{lifecycle.ErrForbidden, "juris"}, {lifecycle.ErrLevel, "level"}, {lifecycle.ErrWrongLevel, "turn"},
	{lifecycle.ErrSealed, "sealed"}, {lifecycle.ErrStagePassed, "passed"}, {lifecycle.ErrState, "state"},
}

func errAnswer(err error) string {
	if err == nil {
		return "ok"
	}
	for _, e := range permErrors {
		if errors.Is(err, e.err) {
			return e.ans
		}
	}
	return "error (" + err.Error() + ")"
}

// answer is the domain's answer to a row: the service's, which must be
// lifecycle.Allowed's too.
func (d *permDomain) answer(t *testing.T, r permRow) (string, string) {
	ctx := context.Background()
	o, err := d.reg.GetOrg(ctx, r.actor.org)
	if err != nil {
		t.Fatal(err)
	}
	a := lifecycle.Actor{Username: r.actor.username, Org: o, RemoteAddr: "192.0.2.30"}
	var allowed string
	ans, note := d.act(t, r, func(fx permFixture) string {
		switch r.act {
		case lifecycle.TakeApplication:
			allowed = errAnswer(lifecycle.Allowed(a, &card.Card{VillageCode: r.village()}, r.act))
			_, err := d.svc.Apply(ctx, a, permApplicant(r.village()))
			return errAnswer(err)
		case lifecycle.ExportCards:
			allowed = errAnswer(lifecycle.Allowed(a, nil, r.act))
			found := false
			_, err := d.svc.Export(ctx, a, "json", func(row lifecycle.ExportRow) error {
				found = found || row.Card.ID == fx.id
				return nil
			})
			return listed(err, found)
		case lifecycle.ManagePopulation:
			county := r.village()[:6]
			allowed = errAnswer(lifecycle.Allowed(a, &card.Card{CountyCode: county}, r.act))
			_, err := d.svc.ComparePopulation(ctx, a, county)
			return errAnswer(err)
		case lifecycle.ExportCredit:
			allowed = errAnswer(lifecycle.Allowed(a, nil, r.act))
			rows, err := d.svc.CreditReport(ctx, a)
			return listed(err, slices.ContainsFunc(rows, func(c lifecycle.CreditRow) bool { return c.Card.ID == fx.id }))
		case lifecycle.ReadReports:
			allowed = errAnswer(lifecycle.Allowed(a, nil, r.act))
			d.svc.Now = permReportAt
			defer func() { d.svc.Now = time.Now }()
			rows, err := d.svc.OverdueReport(ctx, a)
			return listed(err, slices.ContainsFunc(rows, func(o lifecycle.Overdue) bool { return o.Card.ID == fx.id }))
		}
		c, err := d.reg.GetCard(ctx, fx.id)
		if err != nil {
			t.Fatal(err)
		}
		allowed = errAnswer(lifecycle.Allowed(a, &c, r.act))
		repl := ""
		if r.act == lifecycle.SupersedeCard {
			repl = d.fix.replacement(r.village()).id
		}
		return errAnswer(permDo(ctx, d.svc, a, r.act, fx, repl))
	})
	if allowed != ans && (allowed != "ok" || ans != "none") {
		note += fmt.Sprintf(" (lifecycle.Allowed answers %s, the service %s)", allowed, ans)
	}
	return ans, note
}

// listed is the answer of a list: the refusal, else ok if the card is
// in it and none if not.
func listed(err error, found bool) string {
	switch {
	case err != nil:
		return errAnswer(err)
	case found:
		return "ok"
	}
	return "none"
}

// permDo does a card's action through the service.
func permDo(ctx context.Context, svc *lifecycle.Service, a lifecycle.Actor, act lifecycle.Action, fx permFixture, repl string) error {
	var err error
	switch act {
	case lifecycle.ReadCard:
		_, err = svc.Get(ctx, a, fx.id)
	case lifecycle.SealCard:
		_, err = svc.Seal(ctx, a, fx.id)
	case lifecycle.ApproveCard:
		_, err = svc.Approve(ctx, a, fx.id)
	case lifecycle.ChangeMaterials:
		_, err = svc.UpdateMaterials(ctx, a, fx.id, permMaterials)
	case lifecycle.ReviewMaterial:
		_, err = svc.ReviewMaterial(ctx, a, fx.id, card.MatHukou, false, "照片模糊，无法辨认")
	case lifecycle.GiveNotice:
		_, err = svc.Notify(ctx, a, fx.id)
	case lifecycle.MarkCrossProvince:
		_, err = svc.SetCrossProvince(ctx, a, fx.id, true, "女方户籍在外省，需外省核实")
	case lifecycle.RefuseCard:
		_, err = svc.Refuse(ctx, a, fx.id, []string{"不符合再生育条件"})
	case lifecycle.VoidCard:
		_, err = svc.SetStatus(ctx, a, fx.id, card.StatusVoided, "other", "权限表", lifecycle.CardRef{})
	case lifecycle.RevokeCard:
		_, err = svc.SetStatus(ctx, a, fx.id, card.StatusRevoked, "other", "权限表", lifecycle.CardRef{})
	case lifecycle.SupersedeCard:
		_, err = svc.SetStatus(ctx, a, fx.id, card.StatusSuperseded, "other", "权限表", lifecycle.CardRef{ID: repl})
	case lifecycle.DrawForm:
		_, err = svc.CreateRebirthForm(ctx, a, fx.id, "村、乡预审名单", "符合再生育条件")
	case lifecycle.SealForm:
		_, err = svc.SealForm(ctx, a, fx.formID)
	case lifecycle.PreReview:
		_, err = svc.SubmitPreReview(ctx, a, fx.id)
	case lifecycle.IssueDirect:
		_, _, err = svc.IssueDirect(ctx, a, fx.id, "村、乡预审名单", "符合再生育条件")
	case lifecycle.PostCard:
		err = svc.RecordPosting(ctx, a, fx.id, 1, card.PostingPosted, time.Now().In(lifecycle.China).Format("2006-01-02"), "中国邮政", "EMS1234567890")
	default:
		err = fmt.Errorf("no service call for %q", act)
	}
	return err
}

// ---- the JSON API and the console

// permWeb answers rows through the real router over a SQLite registry.
type permWeb struct {
	permWorld
	v       *env
	tokens  map[string]string
	cookies map[string]*http.Cookie
}

func newPermWeb(t *testing.T, ks *keys.FileStore, orgs []org.Org) *permWeb {
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "cardseal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	v := newEnvKeys(t, st, ks, orgs, Options{})
	// The demo's admin, a county user (cmd/cardseal bootstrap).
	if err := st.CreateUser(context.Background(), &staff.User{Username: "admin", OrgCode: "220102", PasswordHash: testHash(t)}); err != nil {
		t.Fatal(err)
	}
	return &permWeb{permWorld: newPermWorld(t, st, v.svc), v: v, tokens: map[string]string{}, cookies: map[string]*http.Cookie{}}
}

func (w *permWeb) token(user string) string {
	if tok, ok := w.tokens[user]; ok {
		return tok
	}
	w.tokens[user] = w.v.session(user)
	return w.tokens[user]
}

func (w *permWeb) cookie(t *testing.T, user string) *http.Cookie {
	if ck, ok := w.cookies[user]; ok {
		return ck
	}
	ck, r := w.v.consoleLogin(t, user, testPassword)
	if ck == nil {
		t.Fatalf("console login of %s: %d", user, r.Code)
	}
	w.cookies[user] = ck
	return ck
}

// apiAnswer reads the answer off a response of the JSON API.
func apiAnswer(r *resp, okStatus int) string {
	if r.Code == okStatus {
		return "ok"
	}
	var p Problem
	_ = json.Unmarshal(r.body, &p)
	slug := strings.TrimPrefix(p.Type, ProblemTypeBase)
	for ans, k := range permKinds {
		if k.slug == slug && k.status == r.Code {
			return ans
		}
	}
	return fmt.Sprintf("HTTP %d %s", r.Code, slug)
}

// permKinds are the problems of the rules' refusals by answer.
var permKinds = map[string]kind{
	"juris": kindForbidden, "level": kindLevel, "turn": kindOutOfOrder,
	"sealed": kindAlreadySealed, "passed": kindStagePassed, "state": kindState,
}

func (w *permWeb) api(t *testing.T, r permRow) (string, string) {
	tok := w.token(r.actor.username)
	return w.act(t, r, func(fx permFixture) string {
		cards := "/api/v1/cards/" + fx.id
		status := func(path string, body StatusRequest) string {
			body.Reason, body.Note = "other", "权限表"
			return apiAnswer(w.v.postJSON(cards+path, tok, body), http.StatusOK)
		}
		switch r.act {
		case lifecycle.TakeApplication:
			return apiAnswer(w.v.postJSON("/api/v1/cards", tok, permApplicant(r.village())), http.StatusCreated)
		case lifecycle.ReadCard:
			return apiAnswer(w.v.do(http.MethodGet, cards, tok, "", nil), http.StatusOK)
		case lifecycle.SealCard:
			return apiAnswer(w.v.postJSON(cards+"/seal", tok, SealRequest{Password: testPassword}), http.StatusOK)
		case lifecycle.ApproveCard:
			return apiAnswer(w.v.postJSON(cards+"/approve", tok, SealRequest{Password: testPassword}), http.StatusOK)
		case lifecycle.ChangeMaterials:
			b, _ := json.Marshal(MaterialsRequest{Materials: permMaterials})
			return apiAnswer(w.v.do(http.MethodPut, cards+"/materials", tok, "application/json", b), http.StatusOK)
		case lifecycle.ReviewMaterial:
			return apiAnswer(w.v.postJSON(cards+"/materials/"+string(card.MatHukou)+"/review", tok, ReviewRequest{Reason: "照片模糊，无法辨认"}), http.StatusOK)
		case lifecycle.GiveNotice:
			return apiAnswer(w.v.do(http.MethodPost, cards+"/notice", tok, "", nil), http.StatusCreated)
		case lifecycle.MarkCrossProvince:
			return apiAnswer(w.v.postJSON(cards+"/cross-province", tok, CrossProvinceRequest{CrossProvince: true, Reason: "女方户籍在外省，需外省核实"}), http.StatusOK)
		case lifecycle.RefuseCard:
			return apiAnswer(w.v.postJSON(cards+"/refuse", tok, RefuseRequest{Reasons: []string{"不符合再生育条件"}}), http.StatusCreated)
		case lifecycle.VoidCard:
			return status("/void", StatusRequest{})
		case lifecycle.RevokeCard:
			return status("/revoke", StatusRequest{})
		case lifecycle.SupersedeCard:
			return status("/supersede", StatusRequest{NewCardID: w.fix.replacement(r.village()).id})
		case lifecycle.DrawForm:
			return apiAnswer(w.v.postJSON(cards+"/rebirth-form", tok, FormRequest{Reason: "村、乡预审名单", Conditions: "符合再生育条件"}), http.StatusCreated)
		case lifecycle.SealForm:
			return apiAnswer(w.v.postJSON("/api/v1/forms/"+fx.formID+"/seal", tok, SealRequest{Password: testPassword}), http.StatusOK)
		case lifecycle.PreReview:
			return apiAnswer(w.v.do(http.MethodPost, cards+"/pre-review", tok, "", nil), http.StatusCreated)
		case lifecycle.IssueDirect:
			return apiAnswer(w.v.postJSON(cards+"/issue-direct", tok, IssueDirectRequest{Password: testPassword, Reason: "村、乡预审名单", Conditions: "符合再生育条件"}), http.StatusOK)
		case lifecycle.ExportCards:
			res := w.v.do(http.MethodGet, "/api/v1/export", tok, "", nil)
			var body struct{ Cards []ExportRecord }
			return presence(t, res, &body, func() bool {
				return slices.ContainsFunc(body.Cards, func(e ExportRecord) bool { return e.Number == fx.number })
			})
		case lifecycle.PostCard:
			return apiAnswer(w.v.postJSON(cards+"/postings/1", tok, PostingUpdate{State: card.PostingPosted, PostedOn: time.Now().In(lifecycle.China).Format("2006-01-02"), Carrier: "中国邮政", Tracking: "EMS1234567890"}), http.StatusNoContent)
		case lifecycle.ManagePopulation:
			return apiAnswer(w.v.do(http.MethodGet, "/api/v1/population/"+r.village()[:6]+"/report", tok, "", nil), http.StatusOK)
		case lifecycle.ExportCredit:
			res := w.v.do(http.MethodGet, "/api/v1/reports/credit?format=json", tok, "", nil)
			var body struct{ Revoked []CreditRecord }
			return presence(t, res, &body, func() bool {
				return slices.ContainsFunc(body.Revoked, func(e CreditRecord) bool { return e.Number == fx.number })
			})
		case lifecycle.ReadReports:
			w.v.svc.Now = permReportAt
			defer func() { w.v.svc.Now = time.Now }()
			res := w.v.do(http.MethodGet, "/api/v1/reports/overdue", tok, "", nil)
			var body struct{ Overdue []DeadlineView }
			return presence(t, res, &body, func() bool {
				return slices.ContainsFunc(body.Overdue, func(d DeadlineView) bool { return d.ID == fx.id })
			})
		}
		t.Fatalf("no API route for %q", r.act)
		return ""
	})
}

// presence answers a list's request: ok if the card is in it, none if
// not, the refusal otherwise.
func presence(t *testing.T, res *resp, body any, in func() bool) string {
	if res.Code != http.StatusOK {
		return apiAnswer(res, http.StatusOK)
	}
	res.json(t, body)
	if in() {
		return "ok"
	}
	return "none"
}

// consoleAnswer reads the answer off a console response: okStatus, or
// the refusal that the error page (or the form shown again) explains.
func consoleAnswer(r *resp, okStatus int) string {
	if r.Code == okStatus {
		return "ok"
	}
	for ans, k := range permKinds {
		if r.Code == k.status || r.Code == http.StatusUnprocessableEntity {
			if strings.Contains(string(r.body), k.detail) {
				return ans
			}
		}
	}
	return fmt.Sprintf("HTTP %d", r.Code)
}

// console answers a row through the console; door is false if the
// console has no control for the action.
func (w *permWeb) console(t *testing.T, r permRow) (ans, note string, door bool) {
	if _, ok := consoleDoors[r.act]; !ok {
		return "", "", false
	}
	ck := w.cookie(t, r.actor.username)
	send := func(method, path string, form url.Values) *resp {
		var req *http.Request
		if form != nil {
			form.Set("csrf", csrfToken(ck.Value))
			req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(method, path, nil)
		}
		req.RemoteAddr = "192.0.2.10:40000"
		req.AddCookie(ck)
		return w.v.serve(req)
	}
	var offered bool
	ans, note = w.act(t, r, func(fx permFixture) string {
		page := "/console/cards/" + fx.id
		// offers fetches the page of the action and looks for its
		// control.
		offers := func(path, control string) bool {
			p := send(http.MethodGet, path, nil)
			return p.Code == http.StatusOK && strings.Contains(string(p.body), control)
		}
		done := func(res *resp) string {
			a := consoleAnswer(res, http.StatusSeeOther)
			if a == "ok" && !strings.HasPrefix(res.Header().Get("Location"), "/console/cards/") {
				return "redirect to " + res.Header().Get("Location")
			}
			return a
		}
		status := func(action string, extra url.Values) string {
			offered = offers(page, `id="form-`+action+`"`)
			// The password confirms the change, as for a seal (issue 16).
			form := url.Values{"action": {action}, "reason": {"other"}, "note": {"权限表"}, "password": {testPassword}}
			for k, v := range extra {
				form[k] = v
			}
			return done(send(http.MethodPost, page+"/status", form))
		}
		switch r.act {
		case lifecycle.TakeApplication:
			offered = offers("/console/new", `<option value="`+r.village()+`"`)
			return done(send(http.MethodPost, "/console/new", permConsoleForm(permApplicant(r.village()))))
		case lifecycle.ReadCard:
			a := consoleAnswer(send(http.MethodGet, page, nil), http.StatusOK)
			offered = a == "ok"
			return a
		case lifecycle.SealCard:
			offered = offers(page, `id="seal-button"`)
			return done(send(http.MethodPost, page+"/seal", url.Values{"password": {testPassword}}))
		case lifecycle.ApproveCard:
			offered = offers(page, `id="approve-button"`)
			return done(send(http.MethodPost, page+"/approve", url.Values{"password": {testPassword}}))
		case lifecycle.ReviewMaterial:
			offered = offers(page, `id="form-review-`+string(card.MatHukou)+`"`)
			return done(send(http.MethodPost, page+"/materials/"+string(card.MatHukou)+"/review", url.Values{"decision": {"deficient"}, "reason": {"照片模糊，无法辨认"}}))
		case lifecycle.GiveNotice:
			offered = offers(page, `id="form-notice"`)
			return done(send(http.MethodPost, page+"/notice", url.Values{}))
		case lifecycle.MarkCrossProvince:
			offered = offers(page, `id="form-cross-province"`)
			return done(send(http.MethodPost, page+"/cross-province", url.Values{"cross_province": {"on"}, "reason": {"女方户籍在外省，需外省核实"}}))
		case lifecycle.RefuseCard:
			offered = offers(page, `id="form-refuse"`)
			return done(send(http.MethodPost, page+"/refuse", url.Values{"reasons": {"不符合再生育条件"}}))
		case lifecycle.PreReview:
			offered = offers(page, `id="prereview-button"`)
			return done(send(http.MethodPost, page+"/pre-review", url.Values{}))
		case lifecycle.IssueDirect:
			offered = offers(page, `id="direct-button"`)
			return done(send(http.MethodPost, page+"/direct", url.Values{"password": {testPassword}, "reason": {"村、乡预审名单"}}))
		case lifecycle.SealForm:
			offered = offers(page, `id="form-seal-button"`)
			return done(send(http.MethodPost, "/console/forms/"+fx.formID+"/seal", url.Values{"password": {testPassword}}))
		case lifecycle.VoidCard:
			return status("void", nil)
		case lifecycle.RevokeCard:
			return status("revoke", nil)
		case lifecycle.SupersedeCard:
			return status("supersede", url.Values{"new_card": {w.fix.replacement(r.village()).number}})
		case lifecycle.PostCard:
			offered = offers("/console/postings", `id="posting-`+fx.id+`"`)
			return done(send(http.MethodPost, "/console/postings/"+fx.id+"/1", url.Values{"state": {card.PostingPosted},
				"posted_on": {time.Now().In(lifecycle.China).Format("2006-01-02")}, "carrier": {"中国邮政"}, "tracking_number": {"EMS1234567890"}}))
		case lifecycle.ExportCredit:
			offered = offers("/console", `id="credit-download"`)
			res := send(http.MethodGet, "/console/reports/credit", nil)
			if a := consoleAnswer(res, http.StatusOK); a != "ok" {
				return a
			}
			if bytes.Contains(res.body, []byte(fx.number)) {
				return "ok"
			}
			offered = false // a list without the card: nothing to offer for it
			return "none"
		}
		t.Fatalf("no console door for %q", r.act)
		return ""
	})
	switch {
	case offered && ans != "ok":
		note += " (the page offers the control, the POST is refused)"
	case !offered && ans == "ok":
		note += " (the POST succeeds, the page offers no control)"
	}
	return ans, note, true
}

// permConsoleForm is the console's new-application form filled in with
// app.
func permConsoleForm(app *card.Applicant) url.Values {
	return url.Values{
		"village": {app.Village}, "type": {string(app.Type)}, "channel": {string(app.Channel)},
		"child_order": {strconv.Itoa(app.ChildOrder)},
		"male_name":   {app.Male.Name}, "male_id": {app.Male.IDNumber}, "male_hukou": {app.Male.Hukou}, "male_residence": {app.Male.Residence},
		"female_name": {app.Female.Name}, "female_id": {app.Female.IDNumber}, "female_hukou": {app.Female.Hukou}, "female_residence": {app.Female.Residence},
		"marriage_date": {app.Marriage.Date}, "marriage_cert": {app.Marriage.CertNumber},
		"status_number": {app.StatusCert.Number}, "status_issuer": {app.StatusCert.Issuer},
	}
}
