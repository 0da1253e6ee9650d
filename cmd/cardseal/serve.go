package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/jilin-health/cardseal/api"
	auditlog "github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/tsa"
	"github.com/jilin-health/cardseal/workday"
)

// serveSettings are the settings 'cardseal serve' takes as flags (and
// 'config check' too, to check what serve would run with).
var serveSettings = []string{"dir", "addr", "db", "public_url", "tls_cert", "tls_key", "redirect_http", "metrics_addr", "calendar", "issuers", "hotline", "windows", "trust_proxy", "tsa_max_drift", "demo_password"}

var cmdServe = &command{
	name:  "serve",
	args:  "[--dir DIR] [--addr HOST:PORT] [--db URL] [--public-url URL] [flags]",
	short: "run the service: staff API and console, QR verification pages, citizen download",
	long: `Serve runs the service until SIGINT or SIGTERM, then shuts down gracefully.

An empty or missing data directory is first initialised with the demo
province (as 'cardseal init --demo'); a registry without staff gets one login
per organisation plus admin, whose password (--demo-password, else random) is
printed once. Settings come from DIR/cardseal.toml, CARDSEAL_* environment
variables and the flags below, each overriding the one before;
'cardseal config check' reports every setting, where it came from, and every
problem. With --tls-cert and --tls-key it serves HTTPS only.`,
	settings: serveSettings,
	flags: func(fs *flag.FlagSet) runFunc {
		debug := fs.Bool("debug", false, "log at debug level")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"serve takes no arguments"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			o := serveOptions{now: e.now}
			if *debug {
				o.logLevel = slog.LevelDebug
			}
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, s, o, e.stdout, e.stderr)
		}
	},
}

// serveOptions are what runServe takes besides the settings.
type serveOptions struct {
	logLevel slog.Level
	// now is the one clock of the service (default time.Now).
	now func() time.Time
	// started, when set, is called with the listening address (tests).
	started func(addr string)
	// redirecting, when set, is called with the address of the plain
	// HTTP listener that redirects to HTTPS (tests).
	redirecting func(addr string)
	// metricsListening, when set, is called with the address of the
	// operator's metrics listener (tests).
	metricsListening func(addr string)
	// expiryWarning is how long before its end a certificate is warned
	// about (default certWarning); tests lengthen it.
	expiryWarning time.Duration
}

// runServe initialises a new data directory if needed, opens the keys
// and the store, creates the demo staff on an empty store, and serves
// until ctx ends, then shuts down gracefully. Every goroutine it starts
// has ended when it returns.
func runServe(ctx context.Context, s *config.Settings, o serveOptions, stdout, stderr io.Writer) error {
	now := o.now
	if now == nil {
		now = time.Now
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	if s.DemoPassword != "" {
		if err := staff.CheckPasswordPolicy(adminUser, s.DemoPassword); err != nil {
			return withHint(fmt.Errorf("demo password: %w", err), "give --demo-password (or CARDSEAL_DEMO_PASSWORD) at least 8 characters")
		}
	}
	if !keys.Initialised(s.Dir) {
		// Save no flag in the file: flags and environment keep
		// overriding it on every start.
		if err := initDir(ctx, s, true, false, stdout, now()); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return withHint(err, "choose another --addr, or stop the program that uses it")
	}
	defer ln.Close()
	s.Listening(ln.Addr().String()) // a port of 0 is now the real one
	if err := s.Check(); err != nil {
		return withHint(err, "fix the setting named above; 'cardseal config check' lists every problem (--public-url is the address phones reach the server at, e.g. https://card.example.gov.cn)")
	}
	var tlsConf *tls.Config
	var tlsLeaf *x509.Certificate
	if s.TLS() {
		pair, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			return withHint(fmt.Errorf("load TLS certificate: %w", err), "--tls-cert must be a PEM certificate (chain) and --tls-key its PEM private key, readable by the cardseal user")
		}
		tlsLeaf = pair.Leaf
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	}
	var redirectLn net.Listener
	if s.RedirectHTTP != "" {
		if redirectLn, err = net.Listen("tcp", s.RedirectHTTP); err != nil {
			return withHint(err, "choose another --redirect-http address, or stop the program that uses it")
		}
		defer redirectLn.Close()
	}
	var metricsLn net.Listener
	if s.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", s.MetricsAddr); err != nil {
			return withHint(err, "choose another --metrics-addr, or stop the program that uses it")
		}
		defer metricsLn.Close()
	}
	ks, err := openKeys(s)
	if err != nil {
		return err
	}
	// The data key (keys/data.key, applicants' personal data at rest) is
	// created on first use. Create or unlock it now: a wrong passphrase
	// fails here rather than at the first card, and a keys directory
	// copied to a second instance after this first start carries it.
	if _, err := ks.DataKey(); err != nil {
		return withHint(fmt.Errorf("data key: %w", err), "the key passphrase must be the one the keys directory was created with")
	}
	platformID, err := ks.PlatformIdentity()
	if err != nil {
		return err
	}
	// A demo data directory from before the time-stamping key gets one
	// from its own root.
	if made, err := ks.EnsureDemoTSA(now()); err != nil {
		return err
	} else if made {
		fmt.Fprintln(stdout, "created the demo province's time-stamping key (keys/tsa.crt)")
	}
	// A demo data directory (its root key here) renews its own CRL when
	// none is current: one from before the demo issued CRLs, or a week
	// old.
	if hasRootKey(s.Dir) && crlWarning(ks, now()) != "" {
		pass, err := s.Passphrase()
		if err != nil {
			return err
		}
		crl, err := issueDemoCRL(ks, pass, now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "issued and installed the demo root's CRL number %v (keys/%s), next update %s\n", crl.Number, keys.CRLFile, crl.NextUpdate.Format(time.RFC3339))
	}
	if w := crlWarning(ks, now()); w != "" {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	tsaID, err := ks.TSAIdentity()
	if err != nil {
		return withHint(fmt.Errorf("time-stamping key: %w", err), "every seal carries a timestamp of the platform's TSA: make its key with 'cardseal keys csr --tsa', have the offline CA sign it ('cardseal ca sign') and install it with 'cardseal keys import'")
	}
	st, err := openRegistry(ctx, s, true)
	if err != nil {
		return err
	}
	defer st.Close()
	authority, err := tsa.New(tsaID, st, tsa.Options{Now: now, MaxDrift: s.TSAMaxDrift, Logger: log})
	if err != nil {
		return err
	}
	staffSvc := staff.NewService(st, st, st, staff.Policy{})
	staffSvc.Now = now
	if err := bootstrap(ctx, st, staffSvc, ks, s.DemoPassword, s.PublicURL, stdout); err != nil {
		return err
	}
	svc := lifecycle.NewService(crashPoint(st, stdout), ks, s.PublicURL)
	svc.Now = now
	svc.SetTimestamper(authority)
	if s.Calendar != "" {
		if svc.Calendar, err = workday.Load(s.Calendar); err != nil {
			return withHint(err, "the calendar file lists holidays and adjusted working days per year, as workday/calendar.toml does")
		}
	}
	// Art. 19: the calendar must know this year's and next year's holidays.
	if cw, err := calendarCheck(s.Calendar, now()); err == nil {
		for _, w := range cw {
			fmt.Fprintf(stdout, "warning: %s\n", w)
		}
	}
	if s.Issuers != "" {
		if svc.Issuers, err = lifecycle.ParseIssuers(s.Issuers); err != nil {
			return withHint(err, "issuers lists type=level pairs, e.g. first=township,second=township,rebirth=county")
		}
	}

	svc.Hotline = s.Hotline
	var windows []org.Window
	if s.Windows != "" {
		if windows, err = loadWindows(s.Windows); err != nil {
			return withHint(err, "the windows file is CSV with the header code,address,phone,hours, as examples/windows.csv (docs/service-windows.md)")
		}
	}

	// From here on goroutines run: each is joined before the store
	// closes (this defer runs before st.Close's).
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	// Sign the audit log's head every five minutes and at shutdown, so
	// an edited, truncated or re-hashed log is detected by
	// 'cardseal audit verify'.
	wg.Go(func() { auditlog.RunAuditSigner(ctx, st, platformID, 5*time.Minute, now, log) })

	// Certificates ending soon: a log warning at start and daily, and a
	// gauge to alert on.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	expiry := api.NewCertificateExpiry(now)
	reg.MustRegister(expiry)
	warnWithin := o.expiryWarning
	if warnWithin <= 0 {
		warnWithin = certWarning
	}
	checkCertificates(ks, tlsLeaf, expiry, warnWithin, now(), log)
	wg.Go(func() { watchCertificates(ctx, ks, tlsLeaf, expiry, warnWithin, now, log) })
	wg.Go(func() { sweepSessions(ctx, st, staffSvc, log) })

	h := api.New(api.Deps{
		Service: svc, Checker: lifecycle.NewChecker(svc), Staff: staffSvc, Quotas: st, TSA: authority, Logger: log,
		Options: api.Options{TrustProxy: s.TrustProxy, Windows: windows, Registry: reg, Now: now, HTTPS: strings.HasPrefix(s.PublicURL, "https://")},
	})
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second, // a 10 MB upload on a slow line
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		TLSConfig:         tlsConf,
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "cardseal: serving %s://%s (QR codes point to %s)\n", scheme, s.Addr, s.PublicURL)
	log.Info("serving", "addr", s.Addr, "tls", tlsConf != nil, "public_url", s.PublicURL, "db", s.DB.Backend.String(), "dir", s.Dir)
	if o.started != nil {
		o.started(s.Addr)
	}
	servers := []*http.Server{srv}
	serve := []func() error{func() error {
		if tlsConf != nil {
			return srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
		}
		return srv.Serve(ln)
	}}
	if redirectLn != nil {
		rsrv := &http.Server{
			Handler:           redirectToHTTPS(s.PublicURL, s.Addr),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		servers = append(servers, rsrv)
		serve = append(serve, func() error { return rsrv.Serve(redirectLn) })
		fmt.Fprintf(stdout, "cardseal: redirecting http://%s to HTTPS\n", redirectLn.Addr())
		log.Info("redirecting to https", "addr", redirectLn.Addr().String())
		if o.redirecting != nil {
			o.redirecting(redirectLn.Addr().String())
		}
	}
	if metricsLn != nil {
		// The operator's address: /metrics, which the public address
		// does not serve (issue 12 I2).
		msrv := &http.Server{
			Handler:           api.MetricsHandler(reg),
			ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout:      30 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		servers = append(servers, msrv)
		serve = append(serve, func() error { return msrv.Serve(metricsLn) })
		log.Info("serving metrics", "addr", metricsLn.Addr().String())
		if o.metricsListening != nil {
			o.metricsListening(metricsLn.Addr().String())
		}
	}
	err = runServers(ctx, servers, serve, log)
	cancel()
	wg.Wait() // the audit signer's last checkpoint is written
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// runServers runs each server until ctx ends or one of them fails, then
// shuts them all down and waits for them. It returns the failure, if
// any.
func runServers(ctx context.Context, servers []*http.Server, serve []func() error, log *slog.Logger) error {
	errc := make(chan error, len(serve))
	var wg sync.WaitGroup
	for _, f := range serve {
		wg.Go(func() { errc <- f() })
	}
	var failed error
	select {
	case failed = <-errc:
		log.Error("server failed", "err", failed)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
			s.Close()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if failed != nil && !errors.Is(failed, http.ErrServerClosed) {
		errs = append([]error{failed}, errs...)
	}
	return errors.Join(errs...)
}

// redirectToHTTPS answers every plain-HTTP request with a permanent
// redirect to the same path over HTTPS: on the public URL's host when that
// is an https:// URL, else on the request's host name at the TLS port.
// GET and HEAD get 301; other methods 308, so a client repeats the method
// and body.
func redirectToHTTPS(publicURL, tlsAddr string) http.Handler {
	host := ""
	if u, err := url.Parse(publicURL); err == nil && u.Scheme == "https" {
		host = u.Host
	}
	_, tlsPort, _ := net.SplitHostPort(tlsAddr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := host
		if h == "" {
			name := r.Host
			if n, _, err := net.SplitHostPort(r.Host); err == nil {
				name = n
			}
			if name == "" {
				http.Error(w, "use HTTPS", http.StatusBadRequest)
				return
			}
			h = name
			if tlsPort != "443" {
				h = net.JoinHostPort(name, tlsPort)
			}
		}
		code := http.StatusMovedPermanently
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			code = http.StatusPermanentRedirect
		}
		http.Redirect(w, r, "https://"+h+r.URL.RequestURI(), code)
	})
}

// sweepSessions deletes expired sessions and rate-limit windows every
// hour.
func sweepSessions(ctx context.Context, st *store.DB, sv *staff.Service, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := sv.Sweep(ctx); err != nil {
				log.Warn("delete expired sessions", "err", err)
			} else if n > 0 {
				log.Info("deleted expired sessions", "count", n)
			}
			if _, err := st.DeleteExpiredRateLimits(ctx); err != nil {
				log.Warn("delete expired rate limits", "err", err)
			}
		}
	}
}

// loadWindows reads the service windows file of the guide.
func loadWindows(path string) ([]org.Window, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return org.ParseWindows(f)
}
