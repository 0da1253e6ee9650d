package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
)

// Staff's view of what a citizen sent (issue 15): on the console's card
// page every required material with its state, the photos inline, a PDF
// as images of its pages rendered here with poppler's pdftoppm (a PDF
// may carry script: it never reaches the browser), and the review of
// each material (accepted, or deficient with a reason). Each image the
// browser fetches is one audited view (Art. 13).

// maxMaterialPages bounds the pages of a PDF material shown.
const maxMaterialPages = 20

// materialRow is one required material on the card page.
type materialRow struct {
	Code, Name, State, Class, Note string
	Files                          []materialFile
	CanReview                      bool
}

// materialFile is one file sent for a material.
type materialFile struct {
	Seq      int
	PDF      bool
	Pages    []int  // the PDF's pages shown (1-based)
	Problem  string // why a PDF cannot be shown
	Received string
}

// materialsView is the materials section of the card page.
type materialsView struct {
	CardID string
	CSRF   string
	Rows   []materialRow
	Online bool
}

// materialsOf builds the materials section of a card the actor may read.
func (s *server) materialsOf(ctx context.Context, a lifecycle.Actor, sc *card.Card, app *card.Applicant, csrf string) (*materialsView, error) {
	atts, err := s.svc.Attachments(ctx, a, sc)
	if err != nil {
		return nil, err
	}
	v := &materialsView{CardID: sc.ID, CSRF: csrf, Online: sc.CreatedBy == lifecycle.CitizenActor}
	can := lifecycle.Can(a, sc, lifecycle.ReviewMaterial)
	for _, m := range card.RequiredMaterials(card.CaseOf(app)) {
		st, ok := app.Materials[m]
		switch {
		case app.Materials == nil:
			st = card.Provided // checked at the counter
		case !ok:
			st = card.Missing
		}
		r := materialRow{Code: string(m), Name: m.Chinese(), State: st.Chinese(), Class: string(st), Note: app.MaterialNotes[m], CanReview: can}
		for _, at := range atts {
			if at.Material != string(m) {
				continue
			}
			f := materialFile{Seq: at.Seq, PDF: at.ContentType == "application/pdf", Received: chinaTime(at.CreatedAt)}
			if f.PDF {
				n, err := pdfPages(ctx, at.Data)
				if err != nil {
					s.log.Warn("material PDF not shown", "card_id", sc.ID, "seq", at.Seq, "err", err)
					f.Problem = pdfProblem(err)
				}
				for p := 1; p <= min(n, maxMaterialPages); p++ {
					f.Pages = append(f.Pages, p)
				}
			}
			r.Files = append(r.Files, f)
		}
		v.Rows = append(v.Rows, r)
	}
	return v, nil
}

// errNoPoppler: poppler-utils (pdfinfo, pdftoppm) is not installed, so a
// PDF material cannot be shown (README: requirements).
var errNoPoppler = errors.New("poppler-utils (pdfinfo, pdftoppm) not installed: PDF materials cannot be shown")

func pdfProblem(err error) string {
	if errors.Is(err, errNoPoppler) {
		return "服务器未安装 poppler-utils（pdftoppm），无法显示 PDF 材料，请联系系统管理员。"
	}
	return "该 PDF 文件无法显示（文件损坏或格式不受支持），请在一次性告知中要求重新提交。"
}

// popplerTool finds one of poppler's tools.
func popplerTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", errNoPoppler
	}
	return p, nil
}

// withPDF writes pdf to a private temporary file for a poppler tool.
func withPDF(pdf []byte, fn func(dir, in string) error) error {
	dir, err := os.MkdirTemp("", "cardseal-material-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "material.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		return err
	}
	return fn(dir, in)
}

// runTool runs a poppler tool with a time bound.
func runTool(ctx context.Context, tool string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", filepath.Base(tool), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// pdfPages counts a PDF's pages with pdfinfo.
func pdfPages(ctx context.Context, pdf []byte) (int, error) {
	tool, err := popplerTool("pdfinfo")
	if err != nil {
		return 0, err
	}
	n := 0
	err = withPDF(pdf, func(_, in string) error {
		out, err := runTool(ctx, tool, in)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "Pages:"); ok {
				n, err = strconv.Atoi(strings.TrimSpace(v))
				return err
			}
		}
		return errors.New("pdfinfo: no page count")
	})
	return n, err
}

// renderMaterialPage renders one page of a PDF material as a PNG, its
// longer side at most 1400 pixels, whatever size the page claims.
func renderMaterialPage(ctx context.Context, pdf []byte, page int) ([]byte, error) {
	tool, err := popplerTool("pdftoppm")
	if err != nil {
		return nil, err
	}
	var png []byte
	err = withPDF(pdf, func(dir, in string) error {
		p := strconv.Itoa(page)
		if _, err := runTool(ctx, tool, "-png", "-scale-to", "1400", "-f", p, "-l", p, "-singlefile", in, filepath.Join(dir, "page")); err != nil {
			return err
		}
		png, err = os.ReadFile(filepath.Join(dir, "page.png"))
		return err
	})
	return png, err
}

// consoleMaterial (GET /console/cards/:id/files/:seq) sends one material to staff as an image: a photo as it
// was sent (its type checked by content on receipt), a PDF's page
// (?page=N) rendered to PNG. Never a PDF. Each request is an audited
// view.
func (s *server) consoleMaterial(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	seq, err := strconv.Atoi(c.Param("seq"))
	if err != nil || seq < 0 {
		return fail(kindNotFound, errors.New("malformed material number"))
	}
	page := 0
	if p := c.QueryParam("page"); p != "" {
		if page, err = strconv.Atoi(p); err != nil || page < 1 || page > maxMaterialPages {
			return fail(kindNotFound, errors.New("malformed page"))
		}
	}
	ctx := c.Request().Context()
	at, err := s.svc.ViewMaterial(ctx, a, id, seq, page)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "private, no-store")
	// Opened on its own, the image is inert.
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set(echo.HeaderContentDisposition, "inline")
	switch at.ContentType {
	case "image/jpeg", "image/png":
		if page != 0 {
			return fail(kindNotFound, errors.New("a photo has no pages"))
		}
		return c.Blob(http.StatusOK, at.ContentType, at.Data)
	case "application/pdf":
		if page == 0 {
			page = 1
		}
		png, err := renderMaterialPage(ctx, at.Data, page)
		if errors.Is(err, errNoPoppler) {
			return fail(kindNoRenderer, err)
		}
		if err != nil {
			return fail(kindNotFound, err)
		}
		return c.Blob(http.StatusOK, "image/png", png)
	}
	return fail(kindNotFound, fmt.Errorf("material of type %q", at.ContentType))
}

// kindNoRenderer: the server cannot render a PDF material.
var kindNoRenderer = kind{503, "renderer-missing", "PDF renderer not installed", "服务器未安装 poppler-utils（pdftoppm），无法显示 PDF 材料，请联系系统管理员。"}

// consoleReview records the review of one material: decision=accept, or
// decision=deficient with a reason.
func (s *server) consoleReview(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	accept := false
	switch c.FormValue("decision") {
	case "accept":
		accept = true
	case "deficient":
	default:
		return fail(kindBadRequest, fmt.Errorf("decision %q", c.FormValue("decision")))
	}
	m := card.Material(c.Param("material"))
	if _, err := s.svc.ReviewMaterial(c.Request().Context(), a, id, m, accept, c.FormValue("reason")); err != nil {
		return err
	}
	s.log.Info("material reviewed", "request_id", requestIDOf(c), "card_id", id, "material", m, "accepted", accept, "user", a.Username, "via", "console")
	return c.Redirect(http.StatusSeeOther, "/console/cards/"+id+"?done=reviewed#materials")
}
