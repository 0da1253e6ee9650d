package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// consoleNotice gives the one-time notice (一次性告知书, Art. 19) from the
// card page: the same lifecycle call as POST /api/v1/cards/{id}/notice,
// which decides who may give it and when (a second one only for what the
// first could not name). The card page then offers its PDF.
func (s *server) consoleNotice(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	n, err := s.svc.Notify(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	s.log.Info("notice given", "request_id", requestIDOf(c), "card_id", id, "user", a.Username, "seq", n.Seq, "via", "console")
	return c.Redirect(http.StatusSeeOther, fmt.Sprintf("/console/cards/%s?done=notice&notice=%d", id, n.Seq))
}
