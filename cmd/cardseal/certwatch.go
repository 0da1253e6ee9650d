package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"time"

	"github.com/jilin-health/cardseal/api"
	"github.com/jilin-health/cardseal/keys"
)

// certWarning: the server warns about a certificate that ends within this
// time, at start and then every certCheckEvery.
const (
	certWarning    = 30 * 24 * time.Hour
	certCheckEvery = 24 * time.Hour
)

// watchCertificates re-runs checkCertificates every certCheckEvery until
// ctx ends.
func watchCertificates(ctx context.Context, ks *keys.FileStore, tlsLeaf *x509.Certificate, g *api.CertificateExpiry, within time.Duration, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(certCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			checkCertificates(ks, tlsLeaf, g, within, now(), log)
		}
	}
}

// checkCertificates reads the keystore's certificates as 'cardseal keys
// status' does (the files on disk, so an imported renewal counts), sets
// the expiry gauge, and logs an error for each certificate that has ended
// or cannot be read, a warning for each ending within the given time and
// for an organisation or platform without a certificate, and a warning
// when no current CRL is installed (crlWarning).
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
	if w := crlWarning(ks, now); w != "" {
		log.Warn("no current CRL", "problem", w)
	}
	if tlsLeaf != nil {
		check("tls", "server", tlsLeaf.Subject.CommonName, fmt.Sprintf("%X", tlsLeaf.SerialNumber), tlsLeaf.NotAfter)
	}
	g.Set(end)
}
