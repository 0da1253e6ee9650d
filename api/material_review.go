package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
)

// kindUnreviewed: a notice asked while a material sent online awaits
// review.
var kindUnreviewed = kind{409, "materials-unreviewed", "Materials await review", "网上提交的申请材料尚未逐项审核；请先审核全部材料，再一次性告知需补正的材料（第十九条）。"}

// ReviewRequest is the body of POST /cards/{id}/materials/{material}/review.
type ReviewRequest struct {
	// Accept: the material is accepted (provided); false: it is
	// deficient and Reason says why (printed on the one-time notice).
	Accept bool   `json:"accept"`
	Reason string `json:"reason,omitempty"`
}

// reviewMaterial records staff's review of one material (Art. 15, 19).
func (s *server) reviewMaterial(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	var req ReviewRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	sc, err := s.svc.ReviewMaterial(c.Request().Context(), a, id, card.Material(c.Param("material")), req.Accept, req.Reason)
	if err != nil {
		return err
	}
	v, err := s.view(c, sc, false)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, v)
}
