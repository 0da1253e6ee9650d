package api

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store/storetest"
)

// Tests of issue 14's procedure items (Art. 13, 20, 23, 11, 16, 19 and
// one valid card per couple and type), each through the real router on
// SQLite and PostgreSQL.

// coupleApplicant is the example application for the couple numbered i
// (ID numbers of their own), changed by fns.
func coupleApplicant(t *testing.T, i int, fns ...func(*card.Applicant)) []byte {
	t.Helper()
	return coupleApp(t, i, "220102001001", fns...)
}

// husbandID is the male spouse's ID number of coupleApplicant(i).
func husbandID(i int) string { return idWithCheck(fmt.Sprintf("22010219800101%03d", 100+2*i)) }

// uploadPage posts a PDF to the public file check page.
func (v *env) uploadPage(t *testing.T, pdf []byte) *resp {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", "card.pdf")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(pdf)
	mw.Close()
	return v.do(http.MethodPost, "/upload", "", mw.FormDataContentType(), buf.Bytes())
}

// publicViews are every public answer about an issued card: the QR JSON
// and page, the manual check, the upload JSON and report, the status list.
func (v *env) publicViews(t *testing.T, id string) map[string]string {
	t.Helper()
	sc, err := v.st.GetCard(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	full := v.fullCard(id)
	pdf := v.currentPDF(id)
	out := map[string]string{
		"json":        v.do(http.MethodGet, "/api/v1/verify/"+sc.QRToken, "", "", nil).Body.String(),
		"page":        v.do(http.MethodGet, "/V/"+sc.QRToken, "", "", nil).Body.String(),
		"manual":      v.do(http.MethodGet, "/api/v1/verify?number="+sc.Number+"&code="+full.VerificationCode, "", "", nil).Body.String(),
		"upload json": v.do(http.MethodPost, "/api/v1/verify", "", "application/pdf", pdf).Body.String(),
		"upload page": v.uploadPage(t, pdf).Body.String(),
		"status list": v.do(http.MethodGet, "/api/v1/status-list", "", "", nil).Body.String(),
	}
	return out
}

func TestArt13PublicAnswerHasNoReason(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		county := v.session("220102")
		voided := v.create(t, coupleApplicant(t, 1))
		v.issue(voided.ID)
		note := "孕28周终止妊娠，未能提供医学证明"
		if r := v.postJSON("/api/v1/cards/"+voided.ID+"/void", county, StatusRequest{Reason: "pregnancy_ended_without_certificate", Note: note}); r.Code != http.StatusOK {
			t.Fatalf("void: %d %s", r.Code, r.body)
		}
		old, nw := v.create(t, coupleApplicant(t, 2)), v.create(t, coupleApplicant(t, 2))
		v.issue(old.ID)
		v.issue(nw.ID)
		if r := v.postJSON("/api/v1/cards/"+old.ID+"/supersede", county, StatusRequest{Reason: "data_corrected", Note: "女方姓名更正后换发", NewCardID: nw.ID}); r.Code != http.StatusOK {
			t.Fatalf("supersede: %d %s", r.Code, r.body)
		}
		// Whatever names the reason, the note or the article behind it.
		secret := []string{"status_reason", "status_note", "原因", "pregnancy_ended", "终止妊娠", "医学证明",
			"data_corrected", "信息更正", "姓名更正", "第二十二条", "第二十条"}
		for _, c := range []struct {
			id, word string
			extra    string
		}{{voided.ID, "已作废", ""}, {old.ID, "已换发", nw.Number}} {
			for where, body := range v.publicViews(t, c.id) {
				for _, s := range secret {
					if strings.Contains(body, s) {
						t.Errorf("%s of a %s card shows %q", where, c.word, s)
					}
				}
				if strings.HasSuffix(where, "page") && !strings.Contains(body, c.word) {
					t.Errorf("%s lacks the status %s", where, c.word)
				}
				if c.extra != "" && where != "status list" && !strings.Contains(body, c.extra) {
					t.Errorf("%s of the re-issued card lacks the new number", where)
				}
			}
		}
		var a lifecycle.Answer
		v.do(http.MethodGet, "/api/v1/verify/"+v.cardToken(voided.ID), "", "", nil).json(t, &a)
		if a.Status != lifecycle.PublicVoided {
			t.Fatalf("voided card answers %q", a.Status)
		}
		// Staff and the holder still learn the reason and the note.
		if full := v.fullCard(voided.ID); full.StatusReason != "pregnancy_ended_without_certificate" || full.StatusNote != note {
			t.Errorf("staff view: %q %q", full.StatusReason, full.StatusNote)
		}
		var ap ApplicationView
		r := v.do(http.MethodGet, "/api/v1/applications/"+voided.Number+"?id_number="+husbandID(1), "", "", nil)
		r.json(t, &ap)
		if r.Code != http.StatusOK || ap.Status != card.StatusVoided || ap.StatusReason != "pregnancy_ended_without_certificate" || ap.StatusNote != note {
			t.Errorf("holder's tracking view: %d %s", r.Code, r.body)
		}
	})
}
