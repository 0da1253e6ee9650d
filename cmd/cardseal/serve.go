package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jilin-health/cardseal/api"
	auditlog "github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store"
)

// serveOptions are the settings of 'cardseal serve' after flags and
// environment.
type serveOptions struct {
	dir, addr, db, publicURL string
	demoPassword             string
	trustProxy               bool
	logLevel                 slog.Level
	// started, when set, is called with the listening address (tests).
	started func(addr string)
}

func cmdServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve")
	dir := fs.String("dir", "", "data directory (default $CARDSEAL_DIR or "+config.DefaultDir+"; created with the demo province when empty)")
	addr := fs.String("addr", "", "listen address (default $CARDSEAL_ADDR or "+config.DefaultAddr+")")
	db := fs.String("db", "", "database URL: postgres://… or a SQLite file (default $CARDSEAL_DB or DIR/cardseal.db)")
	publicURL := fs.String("public-url", "", "base URL printed in QR codes (default $CARDSEAL_PUBLIC_URL or http://ADDR)")
	demoPW := fs.String("demo-password", "", "password of the demo staff users created on first start (default $CARDSEAL_DEMO_PASSWORD, else random and printed once)")
	trustProxy := fs.Bool("trust-proxy", false, "take client IPs from X-Forwarded-For (only behind a reverse proxy)")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"serve takes no arguments"}
	}
	o := serveOptions{dir: *dir, addr: *addr, db: *db, publicURL: *publicURL, demoPassword: *demoPW, trustProxy: *trustProxy}
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
		return withHint(err, "set --public-url to the address phones reach the server at, e.g. https://card.example.gov.cn")
	}
	pass, err := cfg.Passphrase()
	if err != nil {
		return err
	}
	ks, err := keys.OpenDir(cfg.Dir, pass)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return withHint(err, "check --db / CARDSEAL_DB (postgres://user@host:5432/db or a SQLite file path)")
	}
	defer st.Close()
	if err := bootstrap(ctx, st, ks, o.demoPassword, cfg.PublicURL, stdout); err != nil {
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
	go func() { auditlog.RunAuditSigner(actx, st, platformID, 5*time.Minute, log); close(auditDone) }()
	defer func() { stopAudit(); <-auditDone }() // before st.Close

	svc := lifecycle.NewService(st, ks, cfg.PublicURL)
	h := api.New(api.Deps{
		Service: svc, Checker: lifecycle.NewChecker(svc), Store: st, Logger: log,
		Options: api.Options{TrustProxy: o.trustProxy},
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
	}
	go sweepSessions(ctx, st, log)

	fmt.Fprintf(stdout, "cardseal: serving http://%s (QR codes point to %s)\n", cfg.Addr, cfg.PublicURL)
	log.Info("serving", "addr", cfg.Addr, "public_url", cfg.PublicURL, "db", storeKind(cfg.DB), "dir", cfg.Dir)
	if o.started != nil {
		o.started(cfg.Addr)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
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
func sweepSessions(ctx context.Context, st store.Store, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := st.DeleteExpiredSessions(ctx); err != nil {
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

// bootstrap copies the keystore's organisations into the store and, on a
// store without staff, creates one user per organisation (its division
// code is the username) plus admin, and prints the logins once.
func bootstrap(ctx context.Context, st store.Store, ks keys.Store, password, publicURL string, out io.Writer) error {
	orgs := ks.Orgs()
	for _, o := range orgs {
		if err := st.CreateOrg(ctx, store.Org{Code: o.Code, Level: o.Level, Name: o.Name}); err != nil && !errors.Is(err, store.ErrDuplicate) {
			return err
		}
	}
	if _, err := st.GetUserByName(ctx, adminUser); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	var county *keys.Org
	for i := range orgs {
		if orgs[i].Level == keys.County {
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
		password = randomPassword()
	}
	hash, err := api.HashPassword(password)
	if err != nil {
		return err
	}
	type login struct{ user, org string }
	var logins []login
	for _, o := range orgs {
		logins = append(logins, login{o.Code, o.Name})
	}
	logins = append(logins, login{adminUser, county.Name})
	for _, l := range logins {
		code := l.user
		if l.user == adminUser {
			code = county.Code
		}
		u := &store.User{Username: l.user, OrgCode: code, PasswordHash: hash}
		if err := st.CreateUser(ctx, u); err != nil && !errors.Is(err, store.ErrDuplicate) {
			return err
		}
	}
	fmt.Fprintln(out, "staff logins (one per organisation; the username is its division code):")
	for _, l := range logins {
		fmt.Fprintf(out, "  %-13s %s\n", l.user, l.org)
	}
	if generated {
		fmt.Fprintf(out, "password of every login above (shown only now): %s\n", password)
	} else {
		fmt.Fprintln(out, "password: the one given by --demo-password / CARDSEAL_DEMO_PASSWORD")
	}
	fmt.Fprintf(out, "log in: POST %s/api/v1/login {\"username\":\"220102001001\",\"password\":\"…\"}\n", strings.TrimRight(publicURL, "/"))
	return nil
}

// randomPassword returns 16 characters from an alphabet without look-alikes.
func randomPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	out := make([]byte, 0, 16)
	var b [1]byte
	for len(out) < cap(out) {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err)
		}
		if int(b[0]) < 256-256%len(alphabet) { // no modulo bias
			out = append(out, alphabet[int(b[0])%len(alphabet)])
		}
	}
	return string(out)
}
