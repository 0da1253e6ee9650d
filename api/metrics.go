package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Prometheus series of the service. Routes are labelled
// by their template, never by the raw path.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	seals        *prometheus.CounterVec
	verification *prometheus.CounterVec
	logins       *prometheus.CounterVec
	downloads    *prometheus.CounterVec
	rateLimited  *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardseal_http_requests_total", Help: "HTTP requests by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cardseal_http_request_duration_seconds", Help: "HTTP request durations by method and route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}, []string{"method", "route"}),
		seals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardseal_seals_applied_total", Help: "Seals applied to cards, by level.",
		}, []string{"level"}),
		verification: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardseal_verifications_total", Help: "Public verifications by channel (page, json, number, upload) and answer status.",
		}, []string{"channel", "status"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardseal_logins_total", Help: "Staff login attempts by outcome.",
		}, []string{"outcome"}),
		downloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardseal_citizen_downloads_total", Help: "Citizen card download attempts by outcome.",
		}, []string{"outcome"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cardseal_rate_limited_total", Help: "Requests refused by a rate limit, by limit.",
		}, []string{"limit"}),
	}
	reg.MustRegister(m.requests, m.duration, m.seals, m.verification, m.logins, m.downloads, m.rateLimited)
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// MetricsHandler serves a registry in the Prometheus exposition format,
// for the operator's own listener ('cardseal serve --metrics-addr'): the
// series name routes, outcomes and certificate dates that are nobody
// else's business, so the public listener does not serve them unless
// Options.MetricsToken is set.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// metricsAuth admits a scrape that carries Options.MetricsToken as its
// bearer token, compared in constant time.
func (s *server) metricsAuth(next echo.HandlerFunc) echo.HandlerFunc {
	want := sha256.Sum256([]byte(s.opt.MetricsToken))
	return func(c echo.Context) error {
		scheme, tok, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		got := sha256.Sum256([]byte(tok))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return fail(kindUnauthorized, errors.New("metrics: missing or wrong bearer token"))
		}
		return next(c)
	}
}

// CertificateExpiry exports cardseal_certificate_expiry_seconds{kind,id}:
// the seconds until each certificate of the keystore ends (negative once
// it has ended), computed at every scrape from the end dates last given to
// Set, so the value never goes stale between two refreshes. kind is
// "root", "platform", "seal" or "tls"; id is the division code,
// "platform", "root" or "server".
type CertificateExpiry struct {
	desc *prometheus.Desc
	now  func() time.Time

	mu  sync.Mutex
	end map[[2]string]time.Time
}

var _ prometheus.Collector = (*CertificateExpiry)(nil)

// NewCertificateExpiry returns the collector (register it in the registry
// given to Options.Registry). now is the clock (nil: time.Now).
func NewCertificateExpiry(now func() time.Time) *CertificateExpiry {
	if now == nil {
		now = time.Now
	}
	return &CertificateExpiry{
		desc: prometheus.NewDesc("cardseal_certificate_expiry_seconds",
			"Seconds until a certificate ends (negative when it has ended), by kind (root, platform, seal, tls) and id (division code, platform, root, server).",
			[]string{"kind", "id"}, nil),
		now: now,
		end: map[[2]string]time.Time{},
	}
}

// Set replaces every series: notAfter maps {kind, id} to the
// certificate's end.
func (c *CertificateExpiry) Set(notAfter map[[2]string]time.Time) {
	m := make(map[[2]string]time.Time, len(notAfter))
	for k, v := range notAfter {
		m[k] = v
	}
	c.mu.Lock()
	c.end = m
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *CertificateExpiry) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *CertificateExpiry) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	keys := make([][2]string, 0, len(c.end))
	for k := range c.end {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	now := c.now()
	vals := make([]float64, len(keys))
	for i, k := range keys {
		vals[i] = c.end[k].Sub(now).Seconds()
	}
	c.mu.Unlock()
	for i, k := range keys {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, vals[i], k[0], k[1])
	}
}
