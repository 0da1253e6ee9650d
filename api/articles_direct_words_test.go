package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jilin-health/cardseal/store/storetest"
)

// issueDirect reports a re-birth card to the county's list and has the
// county issue it directly (Art. 17).
func (v *env) issueDirect(t *testing.T) CardView {
	t.Helper()
	c := v.create(t, rebirthApplicant(t))
	if r := v.do(http.MethodPost, "/api/v1/cards/"+c.ID+"/pre-review", v.session("220102001001"), "", nil); r.Code != http.StatusCreated {
		t.Fatalf("pre-review: %d %s", r.Code, r.body)
	}
	r := v.postJSON("/api/v1/cards/"+c.ID+"/issue-direct", v.session("220102"), IssueDirectRequest{Password: testPassword, Reason: "村、乡预审上报，符合再生育条件"})
	if r.Code != http.StatusOK {
		t.Fatalf("direct issue: %d %s", r.Code, r.body)
	}
	return c
}

// TestArt17DirectCardPublicWording: a card the county issued directly
// (Art. 17) carries the county's seal alone, and no public page says
// otherwise: the QR page, the progress page and the file check's report
// say 县级电子印章经核验无误（县级直接办理，第十七条）and never 三级; the
// report shows the seal's claim (the pre-review and the approval form),
// its document timestamp and validation time, and says the revisions
// after the seal added long-term validation data and a document
// timestamp. An ordinary card keeps the three-level wording.
func TestArt17DirectCardPublicWording(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		c := v.issueDirect(t)
		const direct = "县级电子印章经核验无误（县级直接办理，第十七条）"
		_, qr := v.publicDirect(t, c.ID)
		track := v.trackPage(t, c.Number, "220102199003071235")
		up := v.uploadPage(t, v.currentPDF(c.ID))
		if up.Code != http.StatusOK {
			t.Fatalf("upload report: %d", up.Code)
		}
		report := up.Body.String()
		for name, page := range map[string]string{"QR page": qr, "track page": track, "upload report": report} {
			if strings.Contains(page, "三级") || !strings.Contains(page, direct) {
				t.Errorf("%s: says 三级 or lacks %q:\n%s", name, direct, page)
			}
		}
		if strings.Contains(track, "乡(镇、街道)级") || !strings.Contains(track, "县级直接办理（第十七条）") {
			t.Errorf("track page lists the lower levels or lacks the Art. 17 heading:\n%s", track)
		}
		for _, want := range []string{`id="direct"`, c.Number + "-F", `id="direct-pre-review"`, `id="doc-timestamps"`, `id="validation-time"`,
			"盖章之后的版本只添加了长期验证数据（证书和证书吊销列表）和文档时间戳", "签名时间戳", "办理方式声明"} {
			if !strings.Contains(report, want) {
				t.Errorf("upload report lacks %q", want)
			}
		}
		if strings.Contains(report, "下一级的印章") {
			t.Error("upload report says the later revisions added the next level's seal")
		}

		// The ordinary card: three levels, its LTV revisions named.
		ord := v.newCard()
		v.issue(ord.ID)
		_, qr = v.publicDirect(t, ord.ID)
		report = v.uploadPage(t, v.currentPDF(ord.ID)).Body.String()
		const three = "村(居)、乡(镇、街道)、县三级电子印章齐全且经核验无误"
		for name, page := range map[string]string{"QR page": qr, "upload report": report} {
			if !strings.Contains(page, three) || strings.Contains(page, "第十七条") {
				t.Errorf("ordinary card's %s lacks %q or names Art. 17", name, three)
			}
		}
		if !strings.Contains(report, "之后的每个版本只添加了下一级的印章；最后一枚印章之后的版本只添加了长期验证数据（证书和证书吊销列表）和文档时间戳") {
			t.Errorf("ordinary card's report does not say what the later revisions added:\n%s", report)
		}
	})
}

// TestUploadCheckNamesComplete: every check the verifier names (each
// constant Check… of package verifier) has a Chinese name on the upload
// report, so that a new check cannot reach citizens as a raw identifier.
func TestUploadCheckNamesComplete(t *testing.T) {
	files, err := filepath.Glob("../verifier/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("verifier sources: %v", err)
	}
	fset := token.NewFileSet()
	seen := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, sp := range g.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Check") || !id.IsExported() {
						continue
					}
					if i >= len(vs.Values) {
						t.Fatalf("verifier.%s has no value of its own", id.Name)
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("verifier.%s is not a string literal", id.Name)
					}
					val, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					seen++
					if !strings.ContainsFunc(checkNames[val], func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
						t.Errorf("verifier.%s (%q) has no Chinese name in checkNames", id.Name, val)
					}
				}
			}
		}
	}
	if seen < 12 {
		t.Fatalf("found %d verifier check constants; the parse missed some", seen)
	}
}
