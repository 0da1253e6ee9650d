package main

import (
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
)

// The key ceremony (docs/operations.md): `ca init`, `ca sign` and
// `ca bundle` on the offline machine that holds the province root key;
// `init --root`, `keys csr`, `keys import` and `keys status` on a server
// that never does. The offline machine has no config file: its commands
// take the CA directory as --dir and the passphrase from the environment
// only (config.OfflinePassphrase).

var cmdCA = &command{
	name:  "ca",
	short: "the province root CA, on the offline machine",
	long: `CA runs the province root CA on the offline machine that holds the root key:
it creates the root, issues the servers' seal and platform certificates from
their requests, and signs other provinces' roots into a trust bundle. The root
key's passphrase comes from CARDSEAL_KEY_PASSPHRASE_FILE (not inside the CA
directory) or CARDSEAL_KEY_PASSPHRASE. A demo data directory holds its root: its
--dir may be the data directory (the CA directory is DATA_DIR/keys), and its
generated passphrase is found as serve finds it.`,
	sub: []*command{cmdCAInit, cmdCASign, cmdCABundle, cmdCARevoke, cmdCACRL},
}

// caDir declares the --dir of the offline CA commands: the CA directory.
// A demo data directory, whose CA directory is DATA_DIR/keys, may be
// given as itself (caPath).
func caDir(fs *flag.FlagSet, usage string) *string {
	d := new(string)
	fs.Func("dir", usage, func(v string) error { *d = caPath(v); return nil })
	return d
}

// caPath is the CA directory that --dir names: dir itself, or dir/keys
// when dir is a data directory holding its root (a demo) and not a CA
// directory.
func caPath(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "root.crt")); err == nil {
		return dir
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "root.crt")); err == nil {
		return filepath.Join(dir, "keys")
	}
	return dir
}

// caPassphrase is the root key's passphrase of the CA directory, after
// checking that it is one: a wrong --dir is named before any passphrase
// is asked for.
func caPassphrase(dir string) ([]byte, error) {
	if _, err := os.Stat(filepath.Join(dir, "root.crt")); err != nil {
		return nil, withHint(fmt.Errorf("%s holds no root CA: %w", dir, err), "give the CA directory 'cardseal ca init' made, or a demo data directory (its CA directory is DATA_DIR/keys)")
	}
	return config.OfflinePassphrase(dir)
}

var cmdCAInit = &command{
	name:  "ca init",
	args:  "--dir CA_DIR --province NAME --name NAME",
	short: "create the province root CA on the offline machine",
	long: `Init creates the province root CA in a new directory: root.crt, the encrypted
root.key, trust.pem (to copy to each server: 'cardseal init --root trust.pem')
and issued/, the record of every certificate issued.`,
	flags: func(fs *flag.FlagSet) runFunc {
		dir := caDir(fs, "offline CA directory to create (root.crt, root.key, trust.pem, issued/)")
		province := fs.String("province", "", "province, e.g. 吉林省")
		name := fs.String("name", "", "the health commission, e.g. 吉林省卫生健康委员会")
		return func(ctx context.Context, e *env, args []string) error {
			if *dir == "" || *province == "" || *name == "" || len(args) != 0 {
				return usageError{"--dir, --province and --name are required"}
			}
			pass, err := config.OfflinePassphrase(*dir)
			if err != nil {
				return err
			}
			ca, err := keys.InitCADir(*dir, *province, *name, pass, e.now())
			if errors.Is(err, keys.ErrCAExists) {
				return withHint(err, "a root exists already; use another --dir (a second root would not be trusted by the servers)")
			}
			if err != nil {
				return err
			}
			out := e.stdout
			kid, _ := keys.KeyID(ca.Cert.PublicKey)
			fmt.Fprintf(out, "created root CA %s\n", ca.Cert.Subject.CommonName)
			fmt.Fprintf(out, "serial:  %X\nkey id:  %s\nvalid:   %s to %s\n", ca.Cert.SerialNumber, kid, day(ca.Cert.NotBefore), day(ca.Cert.NotAfter))
			fmt.Fprintf(out, "root key (encrypted): %s\n", filepath.Join(*dir, "root.key"))
			fmt.Fprintf(out, "copy to each server:  %s  (cardseal init --dir DATA_DIR --root trust.pem)\n", filepath.Join(*dir, "trust.pem"))
			return nil
		}
	},
}

var cmdCASign = &command{
	name:  "ca sign",
	args:  "--dir CA_DIR --in REQUEST.pem --out CERT.pem [--days N] [--crl-url URL] [--dry-run]",
	short: "check a certificate request and issue its certificate (offline machine)",
	long: `Sign checks a request made on a server by 'cardseal keys csr' and issues its
certificate: a seal certificate for an organisation, the platform's QR-signing
certificate, or the platform's time-stamping certificate (extendedKeyUsage
timeStamping, critical). It prints the request's key id first: compare it with
what 'cardseal keys csr' printed on the server. --dry-run stops there.`,
	flags: func(fs *flag.FlagSet) runFunc {
		dir := caDir(fs, "offline CA directory (made by 'cardseal ca init')")
		in := fs.String("in", "", "certificate request (PEM) from 'cardseal keys csr'")
		outFile := fs.String("out", "", "certificate (PEM) to write")
		days := fs.Int("days", int(keys.SealValidity/(24*time.Hour)), "validity in days (at most 1825)")
		dryRun := fs.Bool("dry-run", false, "check the request and show what would be issued, without signing")
		crlURL := fs.String("crl-url", "", "CRL distribution point to name in the certificate: the servers' stable CRL URL, PUBLIC_URL/crl")
		return func(ctx context.Context, e *env, args []string) error {
			if *dir == "" || *in == "" || (*outFile == "" && !*dryRun) || len(args) != 0 {
				return usageError{"--dir, --in and --out are required"}
			}
			out := e.stdout
			b, err := os.ReadFile(*in)
			if err != nil {
				return err
			}
			req, err := keys.ParseRequest(b)
			if err != nil {
				return withHint(err, "do not sign it; make a new request on the server with 'cardseal keys csr'")
			}
			kid, _ := keys.KeyID(req.PublicKey())
			switch {
			case req.Platform:
				fmt.Fprintf(out, "request: platform %s (%s, %s)\n", req.Name, req.Issuer, req.Province)
			case req.TSA:
				fmt.Fprintf(out, "request: time-stamping authority %s (%s, %s)\n", req.Name, req.Issuer, req.Province)
			default:
				fmt.Fprintf(out, "request: %s %s %s (%s)\n", req.Org.Level, req.Org.Code, req.Org.Name, req.Province)
			}
			fmt.Fprintf(out, "key id:  %s  (compare with what 'keys csr' printed on the server)\n", kid)
			if *dryRun {
				return nil
			}
			pass, err := caPassphrase(*dir)
			if err != nil {
				return err
			}
			ca, err := keys.OpenCADir(*dir, pass)
			if err != nil {
				return err
			}
			ca.CRLURL = *crlURL
			if _, err := os.Stat(*outFile); err == nil {
				return withHint(fmt.Errorf("%s exists", *outFile), "choose another --out; cardseal does not overwrite certificates")
			}
			cert, err := ca.SignRequest(req, e.now(), time.Duration(*days)*24*time.Hour)
			if err != nil {
				return err
			}
			rec, err := keys.RecordIssued(*dir, cert)
			if err != nil {
				return err
			}
			if err := os.WriteFile(*outFile, pemCert(cert), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(out, "issued:  %s\nserial:  %X\nvalid:   %s to %s\nwrote %s (record kept in %s)\n", cert.Subject, cert.SerialNumber, day(cert.NotBefore), day(cert.NotAfter), *outFile, rec)
			return nil
		}
	},
}

// cmdCABundle signs a trust-list bundle of other provinces' roots (Art.
// 7a) with this province's root key, on the offline machine. Servers put
// it at DATA_DIR/keys/trust-bundle.pem; cardseal verify reads it from
// there or from --trust-bundle.
var cmdCABundle = &command{
	name:  "ca bundle",
	args:  "--dir CA_DIR --out BUNDLE.pem ROOT.pem...",
	short: "sign other provinces' roots into a trust bundle (Art. 7a; offline machine)",
	long: `Bundle signs other provinces' self-signed root certificates into a trust bundle
with this province's root key (Art. 7a). Servers keep it as
DATA_DIR/keys/trust-bundle.pem; 'cardseal verify' reads it from there or from
--trust-bundle, and trusts cards sealed under those roots.`,
	flags: func(fs *flag.FlagSet) runFunc {
		dir := caDir(fs, "offline CA directory (made by 'cardseal ca init')")
		outFile := fs.String("out", "", "bundle (PEM) to write")
		return func(ctx context.Context, e *env, args []string) error {
			if *dir == "" || *outFile == "" || len(args) == 0 {
				return usageError{"ca bundle takes --dir, --out and the other provinces' root certificates (PEM files)"}
			}
			var roots []*smx509.Certificate
			for _, f := range args {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				tl, err := keys.ParseTrustList(b)
				if err != nil {
					return withHint(fmt.Errorf("%s: %w", f, err), "give each other province's self-signed root certificate in PEM")
				}
				roots = append(roots, tl.Roots()...)
			}
			pass, err := caPassphrase(*dir)
			if err != nil {
				return err
			}
			ca, err := keys.OpenCADir(*dir, pass)
			if err != nil {
				return err
			}
			b, err := keys.SignBundle(ca, roots)
			if err != nil {
				return err
			}
			if err := os.WriteFile(*outFile, b, 0o644); err != nil {
				return err
			}
			for _, r := range roots {
				fmt.Fprintf(e.stdout, "bundled: %s (%s)\n", r.Subject.CommonName, keys.Province(r))
			}
			fmt.Fprintf(e.stdout, "signed with %s: %s\n", ca.Cert.Subject.CommonName, *outFile)
			return nil
		}
	},
}

func pemCert(c *smx509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
