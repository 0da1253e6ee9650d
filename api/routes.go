package api

import (
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
	staff := s.authenticate
	json := bodyLimit(s.opt.MaxJSON)
	form := bodyLimit(4 << 10)
	upload := bodyLimit(s.opt.MaxUpload + 64<<10) // multipart framing on top of the file

	// Operations.
	e.GET("/healthz", s.healthz)
	e.GET("/metrics", s.metrics.handler())
	e.GET("/assets/:name", s.asset)

	// Public pages (no login): the QR URL is upper case (/V/…).
	e.GET("/v/:token", s.verifyPage, html, public, noStore)
	e.GET("/V/:token", s.verifyPage, html, public, noStore)
	e.GET("/c/:token", s.downloadForm, html, public, noStore)
	e.POST("/c/:token", s.download, html, public, download, form, noStore)

	v1 := e.Group("/api/v1")
	v1.GET("/openapi.yaml", s.openAPI)

	// Public API (no login).
	v1.GET("/verify/:token", s.verifyToken, public, noStore)
	v1.GET("/verify", s.verifyNumber, public, noStore)
	v1.POST("/verify", s.verifyUpload, public, upload, noStore)

	// Staff sessions.
	v1.POST("/login", s.login, login, json)
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
}
