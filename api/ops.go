package api

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// openAPIDoc describes every route; docs/openapi.yaml links to it, and a
// test checks that each registered route is documented.
//
//go:embed openapi.yaml
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3 document of the service.
func OpenAPI() []byte { return openAPIDoc }

func (s *server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml; charset=utf-8", openAPIDoc)
}

// healthz reports whether the store answers.
func (s *server) healthz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	if err := s.svc.Ping(ctx); err != nil {
		return fail(kindUnavailable, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}
