package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/store"
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
	e.GET("/metrics", s.metrics.handler())
	e.GET("/assets/:name", s.asset)

	// Public pages (no login): the QR URL is upper case (/V/…).
	e.GET("/v/:token", s.verifyPage, html, public, noStore)
	e.GET("/V/:token", s.verifyPage, html, public, noStore)
	e.GET("/c/:token", s.downloadForm, html, public, noStore)
	e.POST("/c/:token", s.download, html, public, download, form, noStore)
	e.GET("/check", s.checkPage, html, public, noStore)
	e.GET("/upload", s.uploadForm, html, public)
	e.POST("/upload", s.uploadReport, html, public, upload, noStore)
	e.GET("/guide", s.guidePage, html, public)

	// Staff console (issue 5): cookie sessions, CSRF token on every POST
	// form (checked in consoleAuth); levels as in the API below.
	cform := bodyLimit(32 << 10)
	console := s.consoleAuth
	e.GET("/console/login", s.consoleLoginForm, html, noStore)
	e.POST("/console/login", s.consoleLogin, html, login, loginShared, form, noStore)
	e.POST("/console/logout", s.consoleLogout, html, form, console)
	e.GET("/console", s.consoleQueue, html, console, allow(anyLevel...), noStore)
	e.GET("/console/find", s.consoleFind, html, console, allow(anyLevel...), noStore)
	e.GET("/console/new", s.consoleNewForm, html, console, allow(keys.Village), noStore)
	e.POST("/console/new", s.consoleCreate, html, cform, console, allow(keys.Village), noStore)
	e.GET("/console/cards/:id", s.consoleCard, html, console, allow(anyLevel...), noStore)
	e.GET("/console/cards/:id/preview.png", s.consolePreview, html, console, allow(anyLevel...), noStore)
	e.GET("/console/cards/:id/pdf", s.consolePDF, html, console, allow(anyLevel...), noStore)
	e.GET("/console/cards/:id/seal", s.consoleSealConfirm, html, console, allow(anyLevel...), noStore)
	e.POST("/console/cards/:id/seal", s.consoleSeal, html, form, console, allow(anyLevel...), noStore)
	e.POST("/console/cards/:id/status", s.consoleStatus, html, cform, console, allow(keys.County), noStore)
	e.POST("/console/cards/:id/refuse", s.consoleRefuse, html, cform, console, allow(anyLevel...), noStore)
	e.GET("/console/cards/:id/notices/:seq/pdf", s.consoleNoticePDF, html, console, allow(anyLevel...), noStore)

	v1 := e.Group("/api/v1")
	v1.GET("/openapi.yaml", s.openAPI)

	// Public API (no login).
	v1.GET("/verify/:token", s.verifyToken, public, noStore)
	v1.GET("/verify", s.verifyNumber, public, noStore)
	v1.POST("/verify", s.verifyUpload, public, upload, noStore)

	// Staff sessions.
	v1.POST("/login", s.login, login, loginShared, json)
	v1.POST("/logout", s.logout, staff)
	v1.GET("/me", s.me, staff, noStore)

	// Cards. Jurisdiction (the card's village within the caller's
	// organisation) is checked by the lifecycle service per card; the
	// level checks are here.
	v1.POST("/cards", s.createCard, staff, allow(anyLevel...), json)
	v1.GET("/queue", s.queue, staff, allow(anyLevel...), noStore)
	v1.GET("/cards/:id", s.getCard, staff, allow(anyLevel...), noStore)
	v1.GET("/cards/:id/pdf", s.cardPDF, staff, allow(anyLevel...), noStore)
	v1.POST("/cards/:id/seal", s.sealCard, staff, allow(anyLevel...))
	// Status changes: county staff; the service checks it is the
	// issuing county.
	v1.POST("/cards/:id/void", s.setStatus(store.StatusVoided), staff, allow(keys.County), json)
	v1.POST("/cards/:id/revoke", s.setStatus(store.StatusRevoked), staff, allow(keys.County), json)
	v1.POST("/cards/:id/supersede", s.setStatus(store.StatusSuperseded), staff, allow(keys.County), json)

	// The procedure of the rules (procedure.go): notices (Art. 19, 11),
	// deadlines (Art. 19, 24), export (Art. 23), re-birth approval form
	// (Art. 17), status list, online applications (Art. 15, 16).
	v1.POST("/cards/:id/notice", s.notice, staff, allow(anyLevel...), noStore)
	v1.POST("/cards/:id/refuse", s.refuse, staff, allow(anyLevel...), json, noStore)
	v1.PUT("/cards/:id/materials", s.updateMaterials, staff, allow(anyLevel...), json, noStore)
	v1.GET("/cards/:id/notices/:seq/pdf", s.noticePDF, staff, allow(anyLevel...), noStore)
	v1.GET("/queue/deadlines", s.queueDeadlines, staff, allow(anyLevel...), noStore)
	v1.GET("/reports/overdue", s.overdue, staff, allow(keys.County), noStore)
	v1.GET("/export", s.export, staff, allow(keys.County), noStore)
	v1.POST("/cards/:id/rebirth-form", s.createForm, staff, allow(keys.County), json, noStore)
	v1.POST("/forms/:id/seal", s.sealForm, staff, allow(anyLevel...), noStore)
	v1.GET("/forms/:id/pdf", s.formPDF, staff, allow(anyLevel...), noStore)
	v1.GET("/status-list", s.statusList, public)
	v1.POST("/applications", s.apply, public, download, bodyLimit(maxMaterials*MaxMaterialSize+128<<10), noStore)
	v1.GET("/applications/:number", s.trackApplication, public, download, noStore)
}
