package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/tsa"
)

// routes registers every route of the service, with its permission, rate
// limit and body limit, in this one place. Groups carry no middleware
// (echo would add catch-all routes for them); each route lists its own.
func (s *server) routes(e *echo.Echo) {
	public := s.publicLimit.middleware("public", s.metrics)
	download := s.downloadLimit.middleware("download", s.metrics)
	login := s.loginLimit.middleware("login", s.metrics)
	loginShared := s.shared("login", s.opt.LoginWindow, s.opt.LoginWindowLimit)
	staff := s.authenticate
	json := bodyLimit(s.opt.MaxJSON)
	form := bodyLimit(4 << 10)
	upload := bodyLimit(s.opt.MaxUpload + 64<<10) // multipart framing on top of the file

	// Operations.
	e.GET("/healthz", s.healthz)
	// A handler that does nothing: the load test's baseline
	// (scripts/loadtest.sh compares the public check with it).
	e.GET("/api/v1/ping", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	if s.opt.MetricsToken != "" {
		e.GET("/metrics", echo.WrapHandler(MetricsHandler(s.metrics.reg)), s.metricsAuth)
	}
	e.GET("/assets/:name", s.asset)

	// Public pages (no login): the QR URL is upper case (/V/…).
	e.GET("/v/:token", s.verifyPage, html, public, noStore)
	e.GET("/V/:token", s.verifyPage, html, public, noStore)
	// A QR link that ends at /V/ or carries a stray "/" (verifyDamaged).
	e.GET("/v/*", s.verifyDamaged, html, public, noStore)
	e.GET("/V/*", s.verifyDamaged, html, public, noStore)
	e.GET("/c/:token", s.downloadForm, html, public, noStore)
	e.POST("/c/:token", s.download, html, public, download, form, noStore)
	e.GET("/check", s.checkPage, html, public, noStore)
	e.GET("/upload", s.uploadForm, html, public)
	e.POST("/upload", s.uploadReport, html, public, upload, noStore)
	e.GET("/guide", s.guidePage, html, public)
	// Citizens online (citizen.go): apply, the receipt, follow the
	// application and answer a one-time notice. The limits are the JSON
	// API's (POST /api/v1/applications), answered as pages in Chinese.
	citizenBody := bodyLimit(maxMaterials*MaxMaterialSize + 128<<10)
	e.GET("/apply", s.applyPageGet, html, public, noStore)
	e.POST("/apply", s.applySubmit, html, public, download, citizenBody, noStore)
	e.GET("/track", s.trackPageGet, html, public, noStore)
	e.POST("/track", s.trackPost, html, public, download, form, noStore)
	e.POST("/track/upload", s.trackUpload, html, public, download, citizenBody, noStore)
	e.POST("/track/notice", s.trackNoticePage, html, public, download, form, noStore)
	e.POST("/track/post", s.trackPostal, html, public, download, form, noStore)

	// Staff console (issue 5): cookie sessions, CSRF token on every POST
	// form (checked in consoleAuth); levels as in the API below.
	cform := bodyLimit(32 << 10)
	console := s.consoleAuth
	e.GET("/console/login", s.consoleLoginForm, html, noStore)
	// The login form may carry the draft of an application whose session
	// ended (console.go, toLogin), hence the console form's body limit.
	e.POST("/console/login", s.consoleLogin, html, login, loginShared, bodyLimit(32<<10), noStore)
	e.POST("/console/logout", s.consoleLogout, html, form, console)
	e.GET("/console", s.consoleQueue, html, console, noStore)
	e.GET("/console/find", s.consoleFind, html, console, noStore)
	// Issue 16: 已办, 办结 and the search by name or ID number (console_lists.go).
	e.GET("/console/handled", s.consoleHandled, html, console, noStore)
	e.GET("/console/closed", s.consoleClosed, html, console, noStore)
	e.POST("/console/search", s.consoleSearch, html, form, console, noStore)
	e.GET("/console/new", s.consoleNewForm, html, console, noStore)
	e.POST("/console/new", s.consoleCreate, html, cform, console, noStore)
	e.GET("/console/cards/:id", s.consoleCard, html, console, noStore)
	e.GET("/console/cards/:id/preview.png", s.consolePreview, html, console, noStore)
	e.GET("/console/cards/:id/pdf", s.consolePDF, html, console, noStore)
	e.GET("/console/cards/:id/seal", s.consoleSealConfirm, html, console, noStore)
	e.POST("/console/cards/:id/seal", s.consoleSeal, html, form, console, noStore)
	e.POST("/console/cards/:id/approve", s.consoleApprove, html, form, console, noStore)
	e.POST("/console/cards/:id/status", s.consoleStatus, html, cform, console, noStore)
	e.POST("/console/cards/:id/refuse", s.consoleRefuse, html, cform, console, noStore)
	e.POST("/console/cards/:id/notice", s.consoleNotice, html, cform, console, noStore)
	e.POST("/console/cards/:id/cross-province", s.consoleCrossProvince, html, cform, console, noStore)
	e.GET("/console/cards/:id/notices/:seq/pdf", s.consoleNoticePDF, html, console, noStore)
	// What a citizen sent (console_materials.go): an image, never a PDF.
	e.GET("/console/cards/:id/files/:seq", s.consoleMaterial, html, console, noStore)
	e.POST("/console/cards/:id/materials/:material/review", s.consoleReview, html, cform, console, noStore)
	// Art. 17 (console_direct.go): the pre-review report, the list, and
	// the county's direct issue confirmed with the password.
	e.POST("/console/cards/:id/pre-review", s.consolePreReview, html, form, console, noStore)
	e.GET("/console/pre-reviews", s.consolePreReviews, html, console, noStore)
	e.GET("/console/cards/:id/direct", s.consoleDirectConfirm, html, console, noStore)
	e.POST("/console/cards/:id/direct", s.consoleDirect, html, cform, console, noStore)
	// The re-birth approval form (console_form.go): its PDF and the 补盖
	// of each level, confirmed with the password.
	e.GET("/console/forms/:id/pdf", s.consoleFormPDF, html, console, noStore)
	e.GET("/console/forms/:id/seal", s.consoleFormSealConfirm, html, console, noStore)
	e.POST("/console/forms/:id/seal", s.consoleFormSeal, html, form, console, noStore)

	// The platform's time-stamping authority (RFC 3161, issue 17) for
	// the province's other systems: a request is a hash, so its body is
	// small; each client is limited like the public pages.
	if s.tsa != nil {
		e.POST("/tsa", s.timestamp, public, bodyLimit(tsa.MaxRequest), noStore)
	}
	// The current CRL of the province root, at the URL certificates name
	// in their CRL distribution points.
	e.GET("/crl", s.crl, public)
	e.GET("/console/reports/credit", s.creditReport, html, console, noStore)
	e.GET("/console/postings", s.consolePostings, html, console, noStore)
	e.POST("/console/postings/:id/:seq", s.consoleRecordPosting, html, form, console, noStore)

	v1 := e.Group("/api/v1")
	v1.GET("/openapi.yaml", s.openAPI)

	// Public API (no login).
	v1.GET("/verify/:token", s.verifyToken, public, noStore)
	v1.GET("/verify", s.verifyNumber, public, noStore)
	v1.POST("/verify", s.verifyUpload, public, upload, noStore)

	// Staff sessions.
	v1.POST("/login", s.login, login, loginShared, jsonOnly, json)
	v1.POST("/logout", s.logout, staff)
	v1.GET("/me", s.me, staff, noStore)

	// Cards. Who may do what to which card is decided by the lifecycle
	// (lifecycle.Allowed), whichever route a request comes through.
	v1.POST("/cards", s.createCard, staff, json)
	v1.GET("/queue", s.queue, staff, noStore)
	v1.GET("/cards/:id", s.getCard, staff, noStore)
	v1.GET("/cards/:id/pdf", s.cardPDF, staff, noStore)
	// Sealing needs the caller's password again (staff.Confirm), as in
	// the console.
	v1.POST("/cards/:id/seal", s.sealCard, staff, jsonOnly, json)
	// Simultaneous review (Art. 15): any level approves at any time, with
	// its password; the platform seals level by level.
	v1.POST("/cards/:id/approve", s.approveCard, staff, jsonOnly, json)
	// Status changes: county staff; the service checks it is the
	// issuing county.
	v1.POST("/cards/:id/void", s.setStatus(card.StatusVoided), staff, json)
	v1.POST("/cards/:id/revoke", s.setStatus(card.StatusRevoked), staff, json)
	v1.POST("/cards/:id/supersede", s.setStatus(card.StatusSuperseded), staff, json)

	// The procedure of the rules (procedure.go): notices (Art. 19, 11),
	// deadlines (Art. 19, 24), export (Art. 23), re-birth approval form
	// (Art. 17), status list, online applications (Art. 15, 16).
	v1.POST("/cards/:id/notice", s.notice, staff, noStore)
	v1.POST("/cards/:id/refuse", s.refuse, staff, json, noStore)
	v1.PUT("/cards/:id/materials", s.updateMaterials, staff, json, noStore)
	v1.POST("/cards/:id/materials/:material/review", s.reviewMaterial, staff, jsonOnly, json, noStore)
	v1.POST("/cards/:id/cross-province", s.crossProvince, staff, jsonOnly, json, noStore)
	v1.GET("/cards/:id/notices/:seq/pdf", s.noticePDF, staff, noStore)
	v1.GET("/queue/deadlines", s.queueDeadlines, staff, noStore)
	v1.GET("/reports/overdue", s.overdue, staff, noStore)
	v1.GET("/reports/credit", s.creditReport, staff, noStore)
	v1.PUT("/population/:county", s.importPopulation, staff, bodyLimit(64<<20), noStore)
	v1.GET("/population/:county/report", s.populationReport, staff, noStore)
	v1.GET("/export", s.export, staff, noStore)
	v1.POST("/cards/:id/rebirth-form", s.createForm, staff, json, noStore)
	v1.POST("/forms/:id/seal", s.sealForm, staff, jsonOnly, json, noStore)
	v1.GET("/forms/:id/pdf", s.formPDF, staff, noStore)
	// Art. 17: the pre-review list and the county's direct issue, which
	// needs the caller's password again like a seal (direct.go).
	v1.POST("/cards/:id/pre-review", s.preReview, staff, noStore)
	v1.GET("/pre-reviews", s.preReviewList, staff, noStore)
	v1.POST("/cards/:id/issue-direct", s.issueDirect, staff, jsonOnly, json, noStore)
	v1.GET("/status-list", s.statusList, public)
	v1.POST("/applications", s.apply, public, download, bodyLimit(maxMaterials*MaxMaterialSize+128<<10), noStore)
	v1.GET("/applications/:number", s.trackApplication, public, download, noStore)
	v1.GET("/applications/:number/notices/:seq", s.trackNotice, public, download, noStore)
	v1.POST("/applications/:number/posting", s.requestPosting, public, download, jsonOnly, json, noStore)
	v1.GET("/postings", s.openPostings, staff, noStore)
	v1.POST("/cards/:id/postings/:seq", s.recordPosting, staff, jsonOnly, json, noStore)
}
