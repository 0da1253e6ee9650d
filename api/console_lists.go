package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
)

// The console's lists beside "my queue" (issue 16): 已办, the drafts this
// level has sealed that a higher level has still to seal; 办结, the cards
// whose procedure has ended; and the search by a holder's name or ID
// number, an audited read (Art. 13) the service answers from its keyed
// blind index. Each is a page at a time, oldest first, with masked
// holders; which cards a clerk sees the service decides (lifecycle).

// listRow is one card of a list.
type listRow struct {
	ID, Number, Title, Village, Holders, Received, Status string
	Online                                                bool
}

type listData struct {
	consoleBase
	// Tab is "handled", "closed" or "search".
	Tab, Heading, Hint, Empty string
	Rows                      []listRow
	// Next is the cursor of the next page ("" on the last).
	Next string
	// Query is the search as typed (search only).
	Query string
}

// consoleHandled lists 已办.
func (s *server) consoleHandled(c echo.Context) error {
	a, _ := actorOf(c)
	cards, err := s.svc.Handled(c.Request().Context(), a, cursorParam(c.QueryParam("after")), queuePage)
	if err != nil {
		return err
	}
	d := listData{consoleBase: s.base(c, "已办", "queue"), Tab: "handled", Heading: "已办：本机构已盖章、等待上级审核的申请",
		Hint: "本机构已审核盖章，尚待上级机构审核盖章。按受理时间排列，最早的在前。", Empty: "暂无本机构已盖章、等待上级审核的申请。"}
	return s.renderList(c, http.StatusOK, d, cards)
}

// consoleClosed lists 办结.
func (s *server) consoleClosed(c echo.Context) error {
	a, _ := actorOf(c)
	cards, err := s.svc.Closed(c.Request().Context(), a, cursorParam(c.QueryParam("after")), queuePage)
	if err != nil {
		return err
	}
	d := listData{consoleBase: s.base(c, "办结", "queue"), Tab: "closed", Heading: "办结：本辖区已办结的服务卡",
		Hint: "已发证、已作废、已取消、已换发和不予办理的服务卡。按受理时间排列，最早的在前。", Empty: "本辖区暂无已办结的服务卡。"}
	return s.renderList(c, http.StatusOK, d, cards)
}

// cursorParam is a page cursor as given, "" if it is not a card ID.
func cursorParam(after string) string {
	if !cardIDRE.MatchString(after) {
		return ""
	}
	return after
}

// consoleSearch finds a card by what the clerk typed in the search box:
// a card number opens the card (as GET /console/find); a holder's full
// name or ID number lists the cards of the jurisdiction that name them.
// A POST, so that no name or ID number is in a URL (history, logs).
func (s *server) consoleSearch(c echo.Context) error {
	a, _ := actorOf(c)
	typed := strings.TrimSpace(postValue(c, "q"))
	if typed == "" || len(typed) > 160 {
		return s.renderQueue(c, http.StatusBadRequest, "请输入要查找的卡号、持卡人姓名或身份证号。", "")
	}
	if n := card.NormalizeNumber(typed); len(n) == 16 && strings.Trim(n, "0123456789") == "" {
		sc, err := s.svc.FindByNumber(c.Request().Context(), a, n)
		if errors.Is(err, card.ErrNotFound) {
			return s.renderQueue(c, http.StatusNotFound, "未找到卡号为 "+typed+" 的服务卡，或该卡不在本机构管辖范围内。请核对卡号。", typed)
		}
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/console/cards/"+sc.ID)
	}
	cards, kind, err := s.svc.Search(c.Request().Context(), a, typed, cursorParam(postValue(c, "after")), queuePage)
	if errors.Is(err, lifecycle.ErrSearchQuery) {
		s.log.Warn("console search refused", "request_id", requestIDOf(c), "problem", "search-query")
		return s.renderQueue(c, http.StatusBadRequest, "请输入完整的卡号（16 位）、持卡人姓名或身份证号（18 位）。姓名须完整，不支持部分匹配。", typed)
	}
	if err != nil {
		return err
	}
	what, check := "姓名", "请核对姓名；姓名须完整，不支持部分匹配。"
	if kind == lifecycle.SearchIDNumber {
		what, check = "身份证号", "请核对身份证号（18 位）。"
	}
	d := listData{consoleBase: s.base(c, "查找结果", "queue"), Tab: "search", Query: typed,
		Heading: "查找结果：持卡人" + what + "为“" + typed + "”的服务卡",
		Hint:    "仅列出本机构管辖范围内的服务卡。本次查找已记入审计日志（《规定》第十三条）。",
		Empty:   "本机构管辖范围内没有持卡人" + what + "为“" + typed + "”的服务卡。" + check}
	d.Find = typed
	return s.renderList(c, http.StatusOK, d, cards)
}

// renderList fills the rows of d from cards and shows the list page.
func (s *server) renderList(c echo.Context, status int, d listData, cards []card.Card) error {
	ctx := c.Request().Context()
	d.Rows = []listRow{}
	d.Next = nextCursor(cards, queuePage)
	for i := range cards {
		sc := &cards[i]
		app, err := s.svc.Applicant(sc)
		if err != nil {
			return err
		}
		hs := lifecycle.MaskHolders(app)
		st := sc.Status.Chinese()
		if sc.Status == card.StatusDraft && sc.NextLevel.Valid() && len(sc.VillageCode) >= sc.NextLevel.CodeLen() {
			st = "待 " + s.svc.OrgName(ctx, sc.VillageCode[:sc.NextLevel.CodeLen()]) + " 审核"
		}
		d.Rows = append(d.Rows, listRow{
			ID: sc.ID, Number: sc.Number, Title: sc.Type.Title(), Village: s.svc.OrgName(ctx, sc.VillageCode),
			Holders: hs[0].Name + "、" + hs[1].Name, Received: chinaTime(sc.CreatedAt), Status: st,
			Online: sc.CreatedBy == lifecycle.CitizenActor,
		})
	}
	return s.pages.render(c, status, "console_list.html", d)
}
