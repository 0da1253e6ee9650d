package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
)

// The county's irreversible actions on an issued card in the console:
// void, revoke, supersede. Each asks twice, like sealing: the card
// page's form leads to a confirmation that states the consequence and
// asks for the password again (staff.Confirm).

// changeForm is a status change form as submitted, to refill it after an
// error.
type changeForm struct {
	Action, Reason, NewCard, Note string
}

// statusChanges are the county's actions on an issued card that the
// actor may take.
func statusChanges(a lifecycle.Actor, sc *card.Card) []statusChange {
	var out []statusChange
	for _, ch := range []statusChange{
		{Action: "void", Label: "作废", Article: "第二十二条"},
		{Action: "revoke", Label: "取消", Article: "第二十条"},
		{Action: "supersede", Label: "换发", Article: "第十六条", NeedsNewCard: true},
	} {
		to := actionStatus[ch.Action]
		act, _ := lifecycle.ActionFor(to)
		if !lifecycle.Can(a, sc, act) {
			continue
		}
		for _, r := range lifecycle.ReasonClasses[to] {
			ch.Reasons = append(ch.Reasons, reasonOption{Value: r, Label: reasonLabels[r]})
		}
		out = append(out, ch)
	}
	return out
}

// changeText says in the clerk's terms why a status change was refused.
func changeText(k kind) string {
	switch k.slug {
	case kindNewCard.slug, kindNotFound.slug:
		return "换发未办理：新卡卡号不存在、尚未办结，或不在本县管辖范围内。请核对新卡卡号（16 位数字）。"
	case kindReason.slug:
		return "未办理：请选择原因类别并填写说明。"
	}
	return "未办理：" + k.detail
}

var actionStatus = map[string]card.Status{
	"void": card.StatusVoided, "revoke": card.StatusRevoked, "supersede": card.StatusSuperseded,
}

// consoleStatus voids, revokes or supersedes an issued card (county).
// Without a password the form gets the confirmation page (the
// consequence, the password); with one, the password is checked and the
// change made.
func (s *server) consoleStatus(c echo.Context) error {
	a, _ := actorOf(c)
	id, err := cardID(c)
	if err != nil {
		return err
	}
	action := c.FormValue("action")
	to, ok := actionStatus[action]
	if !ok {
		return fail(kindBadRequest, fmt.Errorf("unknown action %q", action))
	}
	password, confirmed := c.Request().PostForm["password"]
	if !confirmed {
		return s.confirmStatus(c, a, id, to, action, http.StatusOK, "")
	}
	if err := s.confirmPassword(c, strings.Join(password, "")); err != nil {
		k, ok := passwordRefusal(c, err, "未办理。")
		if !ok {
			return err
		}
		return s.confirmStatus(c, a, id, to, action, k.status, k.detail)
	}
	f := changeForm{Action: action, Reason: c.FormValue("reason"), NewCard: strings.TrimSpace(c.FormValue("new_card")), Note: c.FormValue("note")}
	newCard := lifecycle.CardRef{Number: card.NormalizeNumber(f.NewCard)}
	sc, err := s.svc.SetStatus(c.Request().Context(), a, id, to, f.Reason, strings.TrimSpace(f.Note), newCard)
	if err != nil {
		// A refusal the clerk can mend (no such new card, no reason)
		// stays on the card page with the form as it was filled in.
		k, _ := classify(err)
		if k.status >= 500 || k.status == http.StatusForbidden {
			return err
		}
		s.log.Warn("console status change refused", "request_id", requestIDOf(c), "problem", k.slug, "err", err)
		return s.renderCard(c, k.status, changeText(k), f)
	}
	s.log.Info("card status changed", "request_id", requestIDOf(c), "card_id", sc.ID, "status", to, "reason", c.FormValue("reason"), "user", a.Username, "via", "console")
	return c.Redirect(http.StatusSeeOther, "/console/cards/"+sc.ID+"?done="+string(to))
}

// confirmData is the confirmation of a status change.
type confirmData struct {
	consoleBase
	Card        *CardView
	Change      changeForm
	Label       string
	Consequence string
	ReasonLabel string
}

// consequences say what a status change does, in the words of the
// public page it leads to.
var consequences = map[string]string{
	"void":      "作废后，扫描此卡二维码将显示“已作废”，持卡人不能再使用此卡；再生育服务卡作废后，这对夫妻不能再次办理（第二十二条）。此操作不可撤销。",
	"revoke":    "取消后，扫描此卡二维码将显示“已取消”，持卡人不能再使用此卡。此操作不可撤销。",
	"supersede": "换发后，扫描此卡二维码将显示“已换发”，并请核验人以新卡为准，本卡不再使用。此操作不可撤销。",
}

// confirmStatus shows the confirmation of a status change the actor may
// make; one it may not is refused here already, as the change would be.
func (s *server) confirmStatus(c echo.Context, a lifecycle.Actor, id string, to card.Status, action string, status int, msg string) error {
	sc, err := s.svc.Peek(c.Request().Context(), a, id)
	if err != nil {
		return err
	}
	act, _ := lifecycle.ActionFor(to)
	if err := lifecycle.Allowed(a, sc, act); err != nil {
		return err
	}
	v, err := s.view(c, sc, false)
	if err != nil {
		return err
	}
	f := changeForm{Action: action, Reason: c.FormValue("reason"), NewCard: strings.TrimSpace(c.FormValue("new_card")), Note: c.FormValue("note")}
	label := map[string]string{"void": "作废", "revoke": "取消", "supersede": "换发"}[action]
	d := confirmData{consoleBase: s.base(c, "确认"+label, "card"), Card: v, Change: f, Label: label,
		Consequence: consequences[action], ReasonLabel: reasonLabels[f.Reason]}
	d.Error = msg
	return s.pages.render(c, status, "console_confirm.html", d)
}
