package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/jilin-health/cardseal/keys"
)

// Revocation on the offline CA (issue 17): 'ca revoke' records a
// revocation, 'ca crl' issues the CRL that operators install on the
// servers with 'keys crl'; serve publishes it at GET /crl.

var cmdCARevoke = &command{
	name:  "ca revoke",
	args:  "--dir CA_DIR --serial HEX --reason keyCompromise|affiliationChanged|superseded|cessationOfOperation --time RFC3339",
	short: "revoke a certificate the offline CA issued, from a given time",
	long: `Revoke records the revocation of a certificate this CA issued (its serial
number in hex, as 'keys status' and verifier reports show it), for a reason, from
--time: for keyCompromise the time since which the key may have been in other
hands. Seals timestamped before that time stay valid; seals timestamped at or
after it are invalid. Issue and publish a new CRL afterwards ('ca crl').`,
	flags: func(fs *flag.FlagSet) runFunc {
		dir := caDir(fs, "offline CA directory (made by 'cardseal ca init')")
		serial := fs.String("serial", "", "serial number of the certificate, hex")
		reason := fs.String("reason", "", "keyCompromise, affiliationChanged, superseded or cessationOfOperation")
		at := fs.String("time", "", "revoked (keyCompromise: compromised) since, RFC 3339, e.g. 2026-12-01T08:00:00+08:00")
		return func(ctx context.Context, e *env, args []string) error {
			if *dir == "" || *serial == "" || *reason == "" || *at == "" || len(args) != 0 {
				return usageError{"--dir, --serial, --reason and --time are required"}
			}
			sn, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(*serial), "0x"), 16)
			if !ok {
				return usageError{fmt.Sprintf("--serial %q is not a hex number", *serial)}
			}
			t, err := time.Parse(time.RFC3339, *at)
			if err != nil {
				return usageError{fmt.Sprintf("--time %q: want RFC 3339, e.g. 2026-12-01T08:00:00+08:00", *at)}
			}
			r, err := keys.Revoke(*dir, sn, *reason, t, e.now())
			if errors.Is(err, keys.ErrRevocation) {
				return withHint(err, "give the serial of a certificate in CA_DIR/issued/ and one of the four reasons")
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked %s (%s) since %s: %s\n", r.Serial, r.Reason, r.Time.Format(time.RFC3339), r.Name)
			fmt.Fprintf(e.stdout, "next: cardseal ca crl --dir %s --out crl.pem, then 'cardseal keys crl' on every server\n", *dir)
			return nil
		}
	},
}

var cmdCACRL = &command{
	name:  "ca crl",
	args:  "--dir CA_DIR --out CRL.pem [--next-update 168h]",
	short: "issue the CA's certificate revocation list (offline machine)",
	long: `Crl issues a new CRL (X.509 v2, signed with the root key, SM2 with SM3) listing
every certificate revoked with 'ca revoke', with its reason and, for
keyCompromise, the invalidity date. Install it on every server with
'cardseal keys crl --in CRL.pem' before --next-update passes; serve publishes it
at /crl.`,
	flags: func(fs *flag.FlagSet) runFunc {
		dir := caDir(fs, "offline CA directory (made by 'cardseal ca init')")
		outFile := fs.String("out", "", "CRL (PEM) to write")
		next := fs.Duration("next-update", keys.DefaultNextUpdate, "how long the CRL is current (its nextUpdate)")
		return func(ctx context.Context, e *env, args []string) error {
			if *dir == "" || *outFile == "" || len(args) != 0 || *next <= 0 {
				return usageError{"--dir and --out are required, --next-update must be positive"}
			}
			pass, err := caPassphrase(*dir)
			if err != nil {
				return err
			}
			b, err := issueCRL(*dir, pass, e.now(), *next)
			if err != nil {
				return err
			}
			if err := os.WriteFile(*outFile, b, 0o644); err != nil {
				return err
			}
			crl, _ := keys.ParseCRL(b)
			fmt.Fprintf(e.stdout, "CRL number %v, %d revoked, next update %s: %s\n", crl.Number, len(crl.RevokedCertificateEntries), crl.NextUpdate.Format(time.RFC3339), *outFile)
			return nil
		}
	},
}

var cmdKeysCRL = &command{
	name:  "keys crl",
	args:  "--in CRL.pem [--dir DIR]",
	short: "install the offline CA's CRL on this server (served at /crl, checked by every verification)",
	long: `Crl installs a CRL made by 'cardseal ca crl': it must be signed by this
province's root and not older than the installed one. serve publishes it at
/crl (the URL new certificates name) and checks every seal against it; restart
is not needed.`,
	settings: dirFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		in := fs.String("in", "", "CRL (PEM or DER) from 'cardseal ca crl'")
		return func(ctx context.Context, e *env, args []string) error {
			if *in == "" || len(args) != 0 {
				return usageError{"--in is required"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			ks, err := openCerts(s)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(*in)
			if err != nil {
				return err
			}
			crl, err := installCRL(ks, b)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "installed CRL number %v (%d revoked, next update %s)\n", crl.Number, len(crl.RevokedCertificateEntries), crl.NextUpdate.Format(time.RFC3339))
			return nil
		}
	},
}
