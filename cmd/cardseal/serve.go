package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
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
	"github.com/jilin-health/cardseal/workday"
)

// serveOptions are the settings of 'cardseal serve' after flags and
// environment.
type serveOptions struct {
	dir, addr, db, publicURL string
	tlsCert, tlsKey          string
	redirectHTTP             string
	calendar                 string
	demoPassword             string
	trustProxy               bool
	logLevel                 slog.Level
	// started, when set, is called with the listening address (tests).
	started func(addr string)
	// redirecting, when set, is called with the address of the plain
	// HTTP listener that redirects to HTTPS (tests).
	redirecting func(addr string)
	// expiryWarning is how long before its end a certificate is warned
	// about (default certWarning); tests lengthen it.
	expiryWarning time.Duration
}

// certWarning: the server warns about a certificate that ends within this
// time, at start and then every certCheckEvery.
const (
	certWarning    = 30 * 24 * time.Hour
	certCheckEvery = 24 * time.Hour
)

func cmdServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve")
	dir := fs.String("dir", "", "data directory (default $CARDSEAL_DIR or "+config.DefaultDir+"; created with the demo province when empty)")
	addr := fs.String("addr", "", "listen address (default $CARDSEAL_ADDR or "+config.DefaultAddr+")")
	db := fs.String("db", "", "database URL: postgres://… or a SQLite file (default $CARDSEAL_DB or DIR/cardseal.db)")
	publicURL := fs.String("public-url", "", "base URL printed in QR codes (default $CARDSEAL_PUBLIC_URL or http://ADDR)")
	demoPW := fs.String("demo-password", "", "password of the demo staff users created on first start (default $CARDSEAL_DEMO_PASSWORD, else random and printed once)")
	tlsCert := fs.String("tls-cert", "", "PEM file of the TLS certificate (and intermediates): serve HTTPS (default $CARDSEAL_TLS_CERT; needs --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM file of the TLS private key (default $CARDSEAL_TLS_KEY)")
	redirectHTTP := fs.String("redirect-http", "", "with TLS: also listen on this address for plain HTTP and redirect every request to HTTPS, e.g. 0.0.0.0:80 (default $CARDSEAL_REDIRECT_HTTP)")
	calendar := fs.String("calendar", "", "working-day calendar file for the Art. 19 time limits (default $CARDSEAL_CALENDAR, else the built-in one)")
	trustProxy := fs.Bool("trust-proxy", false, "take client IPs from X-Forwarded-For (only behind a reverse proxy)")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"serve takes no arguments"}
	}
	o := serveOptions{dir: *dir, addr: *addr, db: *db, publicURL: *publicURL, demoPassword: *demoPW, trustProxy: *trustProxy,
		tlsCert: *tlsCert, tlsKey: *tlsKey, redirectHTTP: *redirectHTTP, calendar: *calendar}
	if o.demoPassword == "" {
		o.demoPassword = os.Getenv("CARDSEAL_DEMO_PASSWORD")
	}
	if *debug {
		o.logLevel = slog.LevelDebug
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runServe(ctx, o, stdout, stderr)
}

// runServe initialises a new data directory if needed, opens the keys
// and the store, creates the demo staff on an empty store, and serves
// until ctx ends, then shuts down gracefully.
func runServe(ctx context.Context, o serveOptions, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	if o.demoPassword != "" && len(o.demoPassword) < 8 {
		return withHint(errors.New("the demo password is too short"), "give --demo-password (or CARDSEAL_DEMO_PASSWORD) at least 8 characters")
	}
	cfg, err := config.Load(o.dir)
	if err != nil {
		return err
	}
	if !keys.Initialised(cfg.Dir) {
		// Save only what belongs in the file: flags and environment
		// keep overriding it on every start.
		if err := initDir(&config.Config{Dir: cfg.Dir, PassphraseFile: cfg.PassphraseFile}, true, stdout); err != nil {
			return err
		}
	}
	// Flags override the environment, which overrides the file.
	if o.addr != "" {
		cfg.Addr = o.addr
	}
	if o.db != "" {
		cfg.DB = o.db
	}
	if o.publicURL != "" {
		cfg.PublicURL = o.publicURL
	}
	if o.tlsCert != "" {
		cfg.TLSCert = o.tlsCert
	}
	if o.tlsKey != "" {
		cfg.TLSKey = o.tlsKey
	}
	if o.calendar != "" {
		cfg.Calendar = o.calendar
	}
	if o.redirectHTTP != "" {
		cfg.RedirectHTTP = o.redirectHTTP
	}
	if cfg.Addr == "" {
		cfg.Addr = config.DefaultAddr
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return withHint(err, "choose another --addr, or stop the program that uses it")
	}
	defer ln.Close()
	cfg.Addr = ln.Addr().String() // a port of 0 is now the real one
	cfg.Fill()
	if err := cfg.Check(); err != nil {
		return withHint(err, "fix the setting named above; 'cardseal config check' lists every problem (--public-url is the address phones reach the server at, e.g. https://card.example.gov.cn)")
	}
	var tlsConf *tls.Config
	var tlsLeaf *x509.Certificate
	if cfg.TLS() {
		pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return withHint(fmt.Errorf("load TLS certificate: %w", err), "--tls-cert must be a PEM certificate (chain) and --tls-key its PEM private key, readable by the cardseal user")
		}
		tlsLeaf = pair.Leaf
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	}
	var redirectLn net.Listener
	if cfg.RedirectHTTP != "" {
		if redirectLn, err = net.Listen("tcp", cfg.RedirectHTTP); err != nil {
			return withHint(err, "choose another --redirect-http address, or stop the program that uses it")
		}
		defer redirectLn.Close()
	}
	pass, err := cfg.Passphrase()
	if err != nil {
		return err
	}
	ks, err := keys.OpenDir(cfg.Dir, pass)
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
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return withHint(err, "check --db / CARDSEAL_DB (postgres://user@host:5432/db or a SQLite file path)")
	}
	defer st.Close()
	staffSvc := staff.NewService(st, st, st, staff.Policy{})
	if err := bootstrap(ctx, st, staffSvc, ks, o.demoPassword, cfg.PublicURL, stdout); err != nil {
		return err
	}
	// Sign the audit log's head every five minutes and at shutdown, so
	// an edited, truncated or re-hashed log is detected by
	// 'cardseal audit verify'.
	platformID, err := ks.PlatformIdentity()
	if err != nil {
		return err
	}
	actx, stopAudit := context.WithCancel(ctx)
	auditDone := make(chan struct{})
	go func() { auditlog.RunAuditSigner(actx, st, platformID, 5*time.Minute, time.Now, log); close(auditDone) }()
	defer func() { stopAudit(); <-auditDone }() // before st.Close

	// Certificates ending soon: a log warning at start and daily, and a
	// gauge to alert on.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	expiry := api.NewCertificateExpiry(nil)
	reg.MustRegister(expiry)
	warnWithin := o.expiryWarning
	if warnWithin <= 0 {
		warnWithin = certWarning
	}
	checkCertificates(ks, tlsLeaf, expiry, warnWithin, time.Now(), log)
	go watchCertificates(ctx, ks, tlsLeaf, expiry, warnWithin, log)

	svc := lifecycle.NewService(crashPoint(st, stdout), ks, cfg.PublicURL)
	if cfg.Calendar != "" {
		if svc.Calendar, err = workday.Load(cfg.Calendar); err != nil {
			return withHint(err, "the calendar file lists holidays and adjusted working days per year, as workday/calendar.toml does")
		}
	}
	h := api.New(api.Deps{
		Service: svc, Checker: lifecycle.NewChecker(svc), Staff: staffSvc, Quotas: st, Logger: log,
		Options: api.Options{TrustProxy: o.trustProxy, Registry: reg},
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
	go sweepSessions(ctx, st, staffSvc, log)

	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "cardseal: serving %s://%s (QR codes point to %s)\n", scheme, cfg.Addr, cfg.PublicURL)
	log.Info("serving", "addr", cfg.Addr, "tls", tlsConf != nil, "public_url", cfg.PublicURL, "db", storeKind(cfg.DB), "dir", cfg.Dir)
	if o.started != nil {
		o.started(cfg.Addr)
	}
	errc := make(chan error, 2)
	go func() {
		if tlsConf != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	servers := []*http.Server{srv}
	if redirectLn != nil {
		rsrv := &http.Server{
			Handler:           redirectToHTTPS(cfg.PublicURL, cfg.Addr),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		servers = append(servers, rsrv)
		go func() { errc <- rsrv.Serve(redirectLn) }()
		fmt.Fprintf(stdout, "cardseal: redirecting http://%s to HTTPS\n", redirectLn.Addr())
		log.Info("redirecting to https", "addr", redirectLn.Addr().String())
		if o.redirecting != nil {
			o.redirecting(redirectLn.Addr().String())
		}
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info("stopped")
	return nil
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

// watchCertificates re-runs checkCertificates every certCheckEvery until
// ctx ends.
func watchCertificates(ctx context.Context, ks *keys.FileStore, tlsLeaf *x509.Certificate, g *api.CertificateExpiry, within time.Duration, log *slog.Logger) {
	t := time.NewTicker(certCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			checkCertificates(ks, tlsLeaf, g, within, time.Now(), log)
		}
	}
}

// checkCertificates reads the keystore's certificates as 'cardseal keys
// status' does (the files on disk, so an imported renewal counts), sets
// the expiry gauge, and logs an error for each certificate that has ended
// or cannot be read, a warning for each ending within the given time and
// for an organisation or platform without a certificate.
func checkCertificates(ks *keys.FileStore, tlsLeaf *x509.Certificate, g *api.CertificateExpiry, within time.Duration, now time.Time, log *slog.Logger) {
	end := map[[2]string]time.Time{}
	check := func(kind, id, name, serial string, notAfter time.Time) {
		end[[2]string{kind, id}] = notAfter
		left := notAfter.Sub(now)
		args := []any{"kind", kind, "id", id, "name", name, "serial", serial, "not_after", notAfter.UTC().Format(time.RFC3339)}
		hint := "renew it by the key ceremony: docs/operations.md, Rotation"
		if kind == "tls" {
			hint = "renew it with the intranet CA and restart: docs/operations.md, TLS"
		}
		switch {
		case left <= 0:
			log.Error("certificate has ended", append(args, "hint", hint)...)
		case left <= within:
			log.Warn("certificate ends soon", append(args, "days_left", int(left.Hours()/24), "hint", hint)...)
		}
	}
	for _, st := range ks.Status() {
		switch {
		case st.Err != nil:
			log.Error("certificate unreadable", "kind", st.Kind, "id", st.ID, "err", st.Err)
		case st.Cert != nil:
			check(st.Kind, st.ID, st.Name, fmt.Sprintf("%X", st.Cert.SerialNumber), st.Cert.NotAfter)
		case !st.Pending:
			log.Warn("no certificate", "kind", st.Kind, "id", st.ID, "name", st.Name)
		}
	}
	if tlsLeaf != nil {
		check("tls", "server", tlsLeaf.Subject.CommonName, fmt.Sprintf("%X", tlsLeaf.SerialNumber), tlsLeaf.NotAfter)
	}
	g.Set(end)
}

// storeKind names the backend without the URL, which may hold a
// password.
func storeKind(db string) string {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return "postgres"
	}
	return "sqlite"
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

// adminUser is the demo administrator, a member of the first county.
const adminUser = "admin"

// bootstrap records the keystore's organisations in the registry and, on
// a registry without staff, creates one user per organisation (its
// division code is the username) plus admin, and prints the logins once.
func bootstrap(ctx context.Context, st *store.DB, sv *staff.Service, ks *keys.FileStore, password, publicURL string, out io.Writer) error {
	if err := seedOrgs(ctx, st, ks); err != nil {
		return err
	}
	if _, err := st.GetUserByName(ctx, adminUser); err == nil {
		return nil
	} else if !errors.Is(err, staff.ErrNotFound) {
		return err
	}
	orgs, err := st.ListOrgs(ctx)
	if err != nil {
		return err
	}
	var county *org.Org
	for i := range orgs {
		if orgs[i].Level == org.County {
			county = &orgs[i]
			break
		}
	}
	if county == nil {
		fmt.Fprintln(out, "no organisations in the keystore: no staff users created (initialise with --demo, or add organisations)")
		return nil
	}
	generated := password == ""
	if generated {
		password = staff.RandomPassword()
	}
	type login struct{ user, code, name string }
	var logins []login
	for _, o := range orgs {
		logins = append(logins, login{o.Code, o.Code, o.Name})
	}
	logins = append(logins, login{adminUser, county.Code, county.Name})
	by := staff.Admin{Name: "bootstrap"}
	for _, l := range logins {
		if _, err := sv.AddUser(ctx, by, l.user, l.code, password); err != nil && !errors.Is(err, staff.ErrDuplicate) {
			return err
		}
	}
	fmt.Fprintln(out, "staff logins (one per organisation; the username is its division code):")
	for _, l := range logins {
		fmt.Fprintf(out, "  %-13s %s\n", l.user, l.name)
	}
	if generated {
		fmt.Fprintf(out, "password of every login above (shown only now): %s\n", password)
	} else {
		fmt.Fprintln(out, "password: the one given by --demo-password / CARDSEAL_DEMO_PASSWORD")
	}
	fmt.Fprintf(out, "log in: POST %s/api/v1/login {\"username\":\"220102001001\",\"password\":\"…\"}\n", strings.TrimRight(publicURL, "/"))
	return nil
}
