// Package api owns cardseal's HTTP interface (echo): the staff API under
// /api/v1 (login, applications, queue, sealing, status changes), the public
// verification page, JSON answers, PDF upload and the citizen download. It is
// the only place where errors become HTTP statuses: handlers return errors,
// and one error handler turns them into RFC 9457 problem details with
// stable messages while the internal error is logged with the request id.
//
// Every route, with its permission, rate limit and body limit, is declared
// in routes.go.
package api

import (
	"html/template"
	"log/slog"
	"runtime"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/tsa"
)

// Deps are what the HTTP layer needs: the card lifecycle, the staff
// accounts, and the shared request counters (package store's DB). The
// HTTP layer reaches the registry only through them.
type Deps struct {
	Service *lifecycle.Service
	Checker *lifecycle.Checker
	Staff   *staff.Service
	Quotas  lifecycle.Quotas
	// TSA, when set, answers RFC 3161 requests at POST /tsa.
	TSA     *tsa.Authority
	Logger  *slog.Logger
	Options Options
}

// Options tune the HTTP layer. Zero values mean the defaults.
type Options struct {
	// Windows are the county and township service windows the guide
	// names (address, phone; configuration "windows").
	Windows []org.Window
	// RequestTimeout bounds every request's context (default 15s).
	RequestTimeout time.Duration
	// MaxUpload bounds an uploaded PDF (default 10 MiB).
	MaxUpload int64
	// MaxVerifications bounds the uploaded PDFs verified at once
	// (default runtime.NumCPU()); an upload that finds them all busy is
	// answered 503 with Retry-After (gate.go).
	MaxVerifications int
	// inGate, in tests, runs while an upload holds a verification slot.
	inGate func()
	// MaxJSON bounds a JSON request body (default 64 KiB).
	MaxJSON int64
	// PublicRate and PublicBurst are the token bucket of each client IP
	// on the public endpoints (default 2/s, burst 30).
	PublicRate  float64
	PublicBurst int
	// DownloadRate and DownloadBurst limit citizen download attempts per
	// client IP (default one per 20 s, burst 5): each attempt tests an
	// ID number against a card.
	DownloadRate  float64
	DownloadBurst int
	// LoginRate and LoginBurst limit login attempts per client IP
	// (default one per 6 s, burst 10), on top of the growing delay per
	// username and client (package staff).
	LoginRate  float64
	LoginBurst int
	// LoginWindowLimit caps login attempts per client IP per
	// LoginWindow across every instance, through the store (the
	// in-memory bucket above is per instance).
	LoginWindowLimit int
	LoginWindow      time.Duration
	// TrustProxy takes the client IP from X-Forwarded-For (set it only
	// behind a reverse proxy that overwrites the header).
	TrustProxy bool
	// HTTPS says clients reach the service over HTTPS even when this
	// listener gets plain HTTP (TLS ends at a proxy; the public URL is
	// https://): every answer then carries Strict-Transport-Security, as
	// answers over TLS always do.
	HTTPS bool
	// MetricsToken, if set, serves GET /metrics on this handler to
	// scrapes that carry it as a bearer token. Without it /metrics is not
	// served here: serve it on an operator-only address with
	// MetricsHandler.
	MetricsToken string
	// Registry receives the metrics (default: a new registry with the Go
	// and process collectors).
	Registry *prometheus.Registry
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) fill() {
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 15 * time.Second
	}
	if o.MaxUpload <= 0 {
		o.MaxUpload = 10 << 20
	}
	if o.MaxVerifications <= 0 {
		o.MaxVerifications = runtime.NumCPU()
	}
	if o.MaxJSON <= 0 {
		o.MaxJSON = 64 << 10
	}
	if o.PublicRate <= 0 {
		o.PublicRate = 2
	}
	if o.PublicBurst <= 0 {
		o.PublicBurst = 30
	}
	if o.DownloadRate <= 0 {
		o.DownloadRate = 1.0 / 20
	}
	if o.DownloadBurst <= 0 {
		o.DownloadBurst = 5
	}
	if o.LoginRate <= 0 {
		o.LoginRate = 1.0 / 6
	}
	if o.LoginWindowLimit <= 0 {
		o.LoginWindowLimit = 30
	}
	if o.LoginWindow <= 0 {
		o.LoginWindow = 10 * time.Minute
	}
	if o.LoginBurst <= 0 {
		o.LoginBurst = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// server holds the handlers' shared state.
type server struct {
	svc     *lifecycle.Service
	checker *lifecycle.Checker
	staff   *staff.Service
	quotas  lifecycle.Quotas
	tsa     *tsa.Authority
	log     *slog.Logger
	opt     Options
	metrics *metrics
	pages   *pages

	uploads       *gate
	publicLimit   *limiter
	downloadLimit *limiter
	loginLimit    *limiter
}

// New returns the HTTP handler of cardseal with every route registered.
func New(deps Deps) *echo.Echo {
	opt := deps.Options
	opt.fill()
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &server{
		svc:           deps.Service,
		checker:       deps.Checker,
		staff:         deps.Staff,
		quotas:        deps.Quotas,
		tsa:           deps.TSA,
		log:           log,
		opt:           opt,
		metrics:       newMetrics(opt.Registry),
		pages:         mustPages(),
		uploads:       newGate(opt.MaxVerifications),
		publicLimit:   newLimiter(opt.PublicRate, opt.PublicBurst, opt.Now),
		downloadLimit: newLimiter(opt.DownloadRate, opt.DownloadBurst, opt.Now),
		loginLimit:    newLimiter(opt.LoginRate, opt.LoginBurst, opt.Now),
	}
	if s.svc != nil {
		s.pages.tmpl.Funcs(template.FuncMap{"hotline": s.svc.HotlineNumber})
	}
	if s.checker == nil && s.svc != nil {
		s.checker = lifecycle.NewChecker(s.svc)
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	if opt.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	e.Use(s.requestID, s.observe, s.recoverPanic, s.securityHeaders, s.timeout)
	s.routes(e)
	return e
}
