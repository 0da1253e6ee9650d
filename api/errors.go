package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/signer"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/templates"
	"github.com/jilin-health/cardseal/throttle"
	"github.com/jilin-health/cardseal/verifier"
)

// kind is one class of problem a client may see: its status, a stable
// slug (the problem type URI ends in it), an English title and a Chinese
// detail. These strings are the whole of what clients learn about an
// error; the underlying error is logged, never sent (Art. 13, and so that
// internal text never becomes an API).
type kind struct {
	status int
	slug   string
	title  string
	detail string
}

// ProblemTypeBase prefixes every problem type URI.
const ProblemTypeBase = "urn:cardseal:problem:"

var (
	kindBadRequest      = kind{400, "bad-request", "Bad request", "请求格式不正确。"}
	kindBadJSON         = kind{400, "bad-json", "Malformed JSON body", "请求内容不是有效的 JSON，或含有未知字段。"}
	kindMissingParam    = kind{400, "missing-parameter", "Missing parameter", "缺少必需的查询参数。"}
	kindUnauthorized    = kind{401, "unauthorized", "Authentication required", "请先登录，或登录已过期。"}
	kindBadCredentials  = kind{401, "bad-credentials", "Invalid credentials", "用户名或密码错误，或账号已停用。"}
	kindForbidden       = kind{403, "forbidden", "Forbidden", "本机构无权对此服务卡执行该操作（超出管辖范围）。"}
	kindLevel           = kind{403, "wrong-level", "Not permitted at this level", "本机构的层级无权执行该操作。"}
	kindStagePassed     = kind{403, "stage-passed", "Review has moved on", "该申请已由上级审核办理，本级不能再更改、告知或不予办理。"}
	kindHolderMismatch  = kind{403, "holder-mismatch", "ID number does not match", "身份证号码与该服务卡的持卡人不符。"}
	kindNotFound        = kind{404, "not-found", "Not found", "未找到请求的资源。"}
	kindMethod          = kind{405, "method-not-allowed", "Method not allowed", "不支持该请求方法。"}
	kindOutOfOrder      = kind{409, "out-of-order", "Seal out of order", "盖章顺序不对：须按村(居)→乡(镇、街道)→县逐级盖章。"}
	kindAlreadySealed   = kind{409, "already-sealed", "Already sealed at this level", "该层级已经盖过章。"}
	kindApproved        = kind{409, "already-approved", "Already approved at this level", "本级已审核同意，下级盖章后将自动加盖本级印章。"}
	kindComplete        = kind{409, "chain-complete", "Seal chain complete", "该服务卡的印章已经齐全。"}
	kindConflict        = kind{409, "conflict", "Conflict", "服务卡刚被他人修改，请刷新后重试。"}
	kindState           = kind{409, "wrong-state", "Not allowed in the card's status", "服务卡当前状态不允许该操作。"}
	kindRebirthBlocked  = kind{409, "rebirth-blocked", "Re-birth card blocked", "该夫妻的再生育服务卡曾被作废，不能再次办理（第二十二条）。"}
	kindNotIssued       = kind{409, "not-issued", "Card not issued", "服务卡尚未办结或已失效，不能下载。"}
	kindTooLarge        = kind{413, "too-large", "Request body too large", "上传内容过大。"}
	kindUnsupportedType = kind{415, "unsupported-media-type", "Unsupported media type", "请上传 PDF 文件（application/pdf 或 multipart/form-data）。"}
	kindNotJSON         = kind{415, "unsupported-media-type", "Unsupported media type", "请求内容须为 JSON（Content-Type: application/json）。"}
	kindNotTSQuery      = kind{415, "unsupported-media-type", "Unsupported media type", "请求内容须为时间戳请求（Content-Type: application/timestamp-query）。"}
	kindInvalidApp      = kind{422, "invalid-application", "Invalid application", "申请信息不完整或格式不正确，请检查指明的字段。"}
	kindUnknownVillage  = kind{422, "unknown-organisation", "Unknown organisation", "未知的区划代码或机构。"}
	kindNewCard         = kind{422, "new-card-required", "New card required", "换发须指明已办结的新卡（new_card_id）。"}
	kindReason          = kind{422, "reason-required", "Reason required", "须填写原因说明（作废、取消、不予办理还须选择原因类别）。"}
	kindNotPDF          = kind{422, "not-pdf", "Not a PDF file", "上传的文件不是 PDF。"}
	kindTooMany         = kind{429, "rate-limited", "Too many requests", "请求过于频繁，请稍后再试。"}
	kindOnlineQuota     = kind{429, "online-quota", "Daily quota of online applications reached", "该村（居）今日的在线申请已达上限，请明日再试，或到村（居）委会现场申请。"}
	kindOpenApplication = kind{409, "application-open", "Application already under review", "这对夫妻已有一份同类申请正在办理中，请凭申请编号查询进度，不要重复申请。"}
	kindInternal        = kind{500, "internal", "Internal error", "服务器内部错误，请稍后再试。"}
	kindUnavailable     = kind{503, "timeout", "Service unavailable", "服务器繁忙或处理超时，请稍后再试。"}
	kindNoTimestamp     = kind{503, "timestamp-unavailable", "Timestamp unavailable", "时间戳服务暂不可用，未盖章，请稍后再试。"}
)

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id,omitempty"`
	// Field and Reason name the field of an invalid application.
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// apiError is an error a handler chose a kind for; cause is logged.
type apiError struct {
	kind  kind
	cause error
	// retryAfter, in seconds, for 429.
	retryAfter int
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.kind.slug + ": " + e.cause.Error()
	}
	return e.kind.slug
}

func (e *apiError) Unwrap() error { return e.cause }

// fail returns an error of the kind with an optional cause for the log.
func fail(k kind, cause error) error { return &apiError{kind: k, cause: cause} }

// classify maps an error to what the client sees. Only here do errors
// become statuses.
func classify(err error) (kind, *Problem) {
	var ae *apiError
	var le *lifecycle.LimitError
	var we *throttle.WaitError
	var qe *lifecycle.QuotaError
	var he *echo.HTTPError
	var fe *card.FieldError
	var mg *templates.MissingGlyphError
	var mb *http.MaxBytesError
	if k, ok := classifyRules(err); ok && !errors.As(err, &ae) {
		return k, nil
	}
	switch {
	case errors.As(err, &ae):
		return ae.kind, nil
	case errors.As(err, &le), errors.As(err, &we):
		return kindTooMany, nil
	case errors.As(err, &qe):
		return kindOnlineQuota, nil
	case errors.Is(err, lifecycle.ErrOpenApplication):
		return kindOpenApplication, nil
	case errors.As(err, &mb):
		return kindTooLarge, nil
	case errors.As(err, &fe):
		return kindInvalidApp, &Problem{Field: fe.Field, Reason: fe.Reason}
	case errors.As(err, &mg):
		// The name or address holds a character the card font lacks:
		// tell staff which field, never echo the text.
		return kindInvalidApp, &Problem{Field: mg.Field, Reason: "character U+" + strconv.FormatInt(int64(mg.Char), 16) + " is not in the card font"}
	case errors.Is(err, card.ErrInvalid):
		return kindInvalidApp, nil
	case errors.Is(err, lifecycle.ErrForbidden), errors.Is(err, chain.ErrJurisdiction), errors.Is(err, lifecycle.ErrRetired):
		return kindForbidden, nil
	case errors.Is(err, lifecycle.ErrLevel):
		return kindLevel, nil
	case errors.Is(err, lifecycle.ErrStagePassed):
		return kindStagePassed, nil
	case errors.Is(err, lifecycle.ErrHolderMismatch):
		return kindHolderMismatch, nil
	case errors.Is(err, lifecycle.ErrNotIssued):
		return kindNotIssued, nil
	case errors.Is(err, lifecycle.ErrNewCard):
		return kindNewCard, nil
	case errors.Is(err, lifecycle.ErrNoticeGiven):
		return kindNoticeGiven, nil
	case errors.Is(err, lifecycle.ErrUnreviewed):
		return kindUnreviewed, nil
	case errors.Is(err, lifecycle.ErrNothingMissing):
		return kindNothingMissing, nil
	case errors.Is(err, lifecycle.ErrNotRebirth):
		return kindNotRebirth, nil
	case errors.Is(err, lifecycle.ErrNotPreReviewed):
		return kindNotPreReviewed, nil
	case errors.Is(err, lifecycle.ErrReported):
		return kindReported, nil
	case errors.Is(err, lifecycle.ErrNotRequired):
		return kindInvalidApp, nil
	case errors.Is(err, chain.ErrOutOfOrder), errors.Is(err, lifecycle.ErrWrongLevel), errors.Is(err, chain.ErrLevel):
		return kindOutOfOrder, nil
	case errors.Is(err, chain.ErrRepeated), errors.Is(err, lifecycle.ErrSealed):
		return kindAlreadySealed, nil
	case errors.Is(err, chain.ErrComplete):
		return kindComplete, nil
	case errors.Is(err, lifecycle.ErrApproved):
		return kindApproved, nil
	case errors.Is(err, lifecycle.ErrRebirthBlocked):
		return kindRebirthBlocked, nil
	case errors.Is(err, lifecycle.ErrState):
		return kindState, nil
	case errors.Is(err, lifecycle.ErrReason):
		return kindReason, nil
	case errors.Is(err, card.ErrNotFound):
		return kindNotFound, nil
	case errors.Is(err, card.ErrConflict), errors.Is(err, card.ErrDuplicate):
		return kindConflict, nil
	case errors.Is(err, org.ErrUnknown), errors.Is(err, org.ErrBadCode):
		return kindUnknownVillage, nil
	case errors.Is(err, staff.ErrBadCredentials):
		return kindBadCredentials, nil
	case errors.Is(err, staff.ErrNoSession):
		return kindUnauthorized, nil
	case errors.Is(err, verifier.ErrNotPDF):
		return kindNotPDF, nil
	case errors.Is(err, context.DeadlineExceeded):
		return kindUnavailable, nil
	case errors.Is(err, signer.ErrTimestamp):
		return kindNoTimestamp, nil
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusNotFound:
			return kindNotFound, nil
		case http.StatusMethodNotAllowed:
			return kindMethod, nil
		case http.StatusRequestEntityTooLarge:
			return kindTooLarge, nil
		case http.StatusUnsupportedMediaType:
			return kindUnsupportedType, nil
		case http.StatusUnauthorized:
			return kindUnauthorized, nil
		case http.StatusTooManyRequests:
			return kindTooMany, nil
		case http.StatusServiceUnavailable:
			return kindUnavailable, nil
		}
		if he.Code >= 400 && he.Code < 500 {
			return kindBadRequest, nil
		}
	}
	return kindInternal, nil
}

// handleError is echo's HTTPErrorHandler: it logs the error (5xx at
// error level, 4xx at warn) and sends a problem, as JSON or, on the
// public pages, as a Chinese HTML page.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		s.log.Warn("error after the response was committed", "request_id", requestIDOf(c), "route", routeOf(c), "err", err)
		return
	}
	k, extra := classify(err)
	p := Problem{Type: ProblemTypeBase + k.slug, Title: k.title, Status: k.status, Detail: k.detail, RequestID: requestIDOf(c)}
	if extra != nil {
		p.Field, p.Reason = extra.Field, extra.Reason
	}
	attrs := []any{"request_id", p.RequestID, "route", routeOf(c), "method", c.Request().Method, "status", k.status, "problem", k.slug, "err", err}
	if a, ok := actorOf(c); ok {
		attrs = append(attrs, "user", a.Username, "org", a.Org.Code)
	}
	if k.status >= 500 {
		s.log.Error("request failed", attrs...)
	} else {
		s.log.Warn("request refused", attrs...)
	}
	var ae *apiError
	var le *lifecycle.LimitError
	var we *throttle.WaitError
	var qe *lifecycle.QuotaError
	switch {
	case errors.As(err, &ae) && ae.retryAfter > 0:
		c.Response().Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	case errors.As(err, &le):
		c.Response().Header().Set("Retry-After", retrySeconds(le.RetryAfter))
	case errors.As(err, &we):
		c.Response().Header().Set("Retry-After", retrySeconds(we.RetryAfter))
	case errors.As(err, &qe):
		c.Response().Header().Set("Retry-After", retrySeconds(qe.RetryAfter))
	}
	if k.status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="cardseal"`)
	}
	var werr error
	switch {
	case c.Request().Method == http.MethodHead:
		werr = c.NoContent(k.status)
	case isHTML(c) || wantsHTML(c):
		werr = s.pages.renderError(c, k)
	default:
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		c.Response().Header().Set("Cache-Control", "no-store")
		c.Response().WriteHeader(k.status)
		werr = jsonEncode(c.Response(), p)
	}
	if werr != nil {
		s.log.Warn("write error response", "request_id", p.RequestID, "err", werr)
	}
}

// wantsHTML reports whether a request no route claimed as HTML comes
// from a browser: a GET outside the JSON API whose Accept header names
// text/html. An unknown route or a mistyped link then gets a Chinese
// page with the site's landmarks, not a problem document.
func wantsHTML(c echo.Context) bool {
	r := c.Request()
	if r.Method != http.MethodGet || strings.HasPrefix(r.URL.Path, "/api/") {
		return false
	}
	return strings.Contains(r.Header.Get(echo.HeaderAccept), "text/html")
}

// retrySeconds is a wait as the Retry-After header's whole seconds,
// rounded up so that a client that waits so long is let in.
func retrySeconds(d time.Duration) string {
	return strconv.FormatInt(int64(max(time.Second, d+time.Second-1)/time.Second), 10)
}
