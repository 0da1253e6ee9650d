package api

import (
	"strconv"
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

// handler serves the registry in the Prometheus exposition format.
func (m *metrics) handler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}
