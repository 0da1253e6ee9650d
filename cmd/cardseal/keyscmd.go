package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
)

// The key ceremony (docs/operations.md): `ca init` and `ca sign` on the
// offline machine that holds the province root key; `init --root`,
// `keys csr`, `keys import` and `keys status` on a server that never does.

func cmdCA(args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError{"missing ca command; try 'cardseal ca init' or 'cardseal ca sign'"}
	}
	switch args[0] {
	case "init":
		return cmdCAInit(args[1:], out)
	case "sign":
		return cmdCASign(args[1:], out)
	case "bundle":
		return cmdCABundle(args[1:], out)
	}
	return usageError{fmt.Sprintf("unknown ca command %q; try 'cardseal ca init' or 'cardseal ca sign'", args[0])}
}

func cmdKeys(args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError{"missing keys command; try 'cardseal keys csr', 'keys import' or 'keys status'"}
	}
	switch args[0] {
	case "csr":
		return cmdKeysCSR(args[1:], out)
	case "import":
		return cmdKeysImport(args[1:], out)
	case "status":
		return cmdKeysStatus(args[1:], out)
	}
	return usageError{fmt.Sprintf("unknown keys command %q; try 'cardseal keys csr', 'keys import' or 'keys status'", args[0])}
}

// offlinePassphrase reads the root key's passphrase from the environment
// only (there is no config file on the offline machine), and refuses a
// passphrase file kept beside the root key.
func offlinePassphrase(dir string) ([]byte, error) {
	if f := os.Getenv("CARDSEAL_KEY_PASSPHRASE_FILE"); f != "" && config.Inside(f, dir) {
		return nil, withHint(fmt.Errorf("passphrase file %s lies inside the CA directory %s", f, dir), "keep the passphrase apart from the root key (another medium, or typed into CARDSEAL_KEY_PASSPHRASE)")
	}
	return keys.Passphrase("")
}

func cmdCAInit(args []string, out io.Writer) error {
	fs := newFlags("ca init")
	dir := fs.String("dir", "", "offline CA directory to create (root.crt, root.key, trust.pem, issued/)")
	province := fs.String("province", "", "province, e.g. 吉林省")
	name := fs.String("name", "", "the health commission, e.g. 吉林省卫生健康委员会")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" || *province == "" || *name == "" {
		return usageError{"--dir, --province and --name are required"}
	}
	pass, err := offlinePassphrase(*dir)
	if err != nil {
		return err
	}
	ca, err := keys.InitCADir(*dir, *province, *name, pass, time.Now())
	if errors.Is(err, keys.ErrCAExists) {
		return withHint(err, "a root exists already; use another --dir (a second root would not be trusted by the servers)")
	}
	if err != nil {
		return err
	}
	kid, _ := keys.KeyID(ca.Cert.PublicKey)
	fmt.Fprintf(out, "created root CA %s\n", ca.Cert.Subject.CommonName)
	fmt.Fprintf(out, "serial:  %X\nkey id:  %s\nvalid:   %s to %s\n", ca.Cert.SerialNumber, kid, day(ca.Cert.NotBefore), day(ca.Cert.NotAfter))
	fmt.Fprintf(out, "root key (encrypted): %s\n", filepath.Join(*dir, "root.key"))
	fmt.Fprintf(out, "copy to each server:  %s  (cardseal init --dir DATA_DIR --root trust.pem)\n", filepath.Join(*dir, "trust.pem"))
	return nil
}

func cmdCASign(args []string, out io.Writer) error {
	fs := newFlags("ca sign")
	dir := fs.String("dir", "", "offline CA directory (made by 'cardseal ca init')")
	in := fs.String("in", "", "certificate request (PEM) from 'cardseal keys csr'")
	outFile := fs.String("out", "", "certificate (PEM) to write")
	days := fs.Int("days", int(keys.SealValidity/(24*time.Hour)), "validity in days (at most 1825)")
	dryRun := fs.Bool("dry-run", false, "check the request and show what would be issued, without signing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" || *in == "" || (*outFile == "" && !*dryRun) {
		return usageError{"--dir, --in and --out are required"}
	}
	b, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	req, err := keys.ParseRequest(b)
	if err != nil {
		return withHint(err, "do not sign it; make a new request on the server with 'cardseal keys csr'")
	}
	kid, _ := keys.KeyID(req.PublicKey())
	if req.Platform {
		fmt.Fprintf(out, "request: platform %s (%s, %s)\n", req.Name, req.Issuer, req.Province)
	} else {
		fmt.Fprintf(out, "request: %s %s %s (%s)\n", req.Org.Level, req.Org.Code, req.Org.Name, req.Province)
	}
	fmt.Fprintf(out, "key id:  %s  (compare with what 'keys csr' printed on the server)\n", kid)
	if *dryRun {
		return nil
	}
	pass, err := offlinePassphrase(*dir)
	if err != nil {
		return err
	}
	ca, err := keys.OpenCADir(*dir, pass)
	if err != nil {
		return err
	}
	if _, err := os.Stat(*outFile); err == nil {
		return withHint(fmt.Errorf("%s exists", *outFile), "choose another --out; cardseal does not overwrite certificates")
	}
	cert, err := ca.SignRequest(req, time.Now(), time.Duration(*days)*24*time.Hour)
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
	fmt.Fprintf(out, "issued:  %s\nserial:  %X\nvalid:   %s to %s\nwrote %s (record kept in %s)\n", subject(cert), cert.SerialNumber, day(cert.NotBefore), day(cert.NotAfter), *outFile, rec)
	return nil
}

// initServer creates a server data directory whose trust list is the
// offline root (init --root): no root key, no organisations yet.
func initServer(cfg *config.Config, rootFile string, out io.Writer) error {
	if keys.Initialised(cfg.Dir) {
		return withHint(fmt.Errorf("%s is already initialised", cfg.Dir), "use another --dir, or remove the directory to start over")
	}
	b, err := os.ReadFile(rootFile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return err
	}
	if err := keys.InitServerDir(cfg.Dir, b); err != nil {
		return withHint(err, "give the trust.pem or root.crt that 'cardseal ca init' wrote")
	}
	if err := cfg.Save(); err != nil {
		return err
	}
	// The registry (the database) starts empty; 'keys import' records
	// each organisation as its certificate arrives.
	cfg.Fill()
	st, err := openRegistry(context.Background(), cfg, true)
	if err != nil {
		return err
	}
	st.Close()
	tl, _ := keys.ParseTrustList(b)
	root := tl.Roots()[0]
	kid, _ := keys.KeyID(root.PublicKey)
	fmt.Fprintf(out, "initialised %s trusting %s (key id %s); no root key, no organisations yet\n", cfg.Dir, root.Subject.CommonName, kid)
	fmt.Fprintf(out, "next: cardseal keys csr --dir %s --platform, then one 'keys csr --org CODE --name NAME' per organisation\n", cfg.Dir)
	return nil
}

func cmdKeysCSR(args []string, out io.Writer) error {
	fs := newFlags("keys csr")
	dir := fs.String("dir", "", "data directory")
	orgCode := fs.String("org", "", "division code of the organisation (6, 9 or 12 digits; the level follows from it)")
	name := fs.String("name", "", "organisation name (required for a new organisation; for the platform, its certificate name)")
	platform := fs.Bool("platform", false, "request the platform's QR-signing key instead of a seal key")
	outFile := fs.String("out", "", "request file to write (default CODE.csr.pem or platform.csr.pem; - for standard output)")
	replace := fs.Bool("replace", false, "discard a pending request and its key")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*orgCode == "") == !*platform {
		return usageError{"give either --org CODE or --platform"}
	}
	cfg, ks, err := openKeys(*dir)
	if err != nil {
		return err
	}
	var csr []byte
	var what, id string
	if *platform {
		id, what = "platform", "platform QR-signing key"
		csr, err = ks.RequestPlatform(*name, *replace)
	} else {
		code, level, nerr := org.NormalizeCode(*orgCode)
		if nerr != nil {
			return withHint(nerr, "a county code has 6 digits, a township 9, a village 12")
		}
		o := org.Org{Code: code, Level: level, Name: *name}
		if o.Name == "" {
			o.Name = registryName(cfg, code)
		}
		if o.Name == "" {
			return usageError{fmt.Sprintf("%s is a new organisation: give its name with --name", code)}
		}
		id, what = code, fmt.Sprintf("seal key of %s %s %s", level, code, o.Name)
		csr, err = ks.RequestSeal(o, *replace)
	}
	switch {
	case errors.Is(err, keys.ErrPending):
		return withHint(err, "import the certificate issued for it with 'cardseal keys import', or pass --replace to discard it")
	case errors.Is(err, keys.ErrOrgMismatch):
		return withHint(err, "the division code's level and the certificate's must agree")
	case err != nil:
		return err
	}
	req, err := keys.ParseRequest(csr)
	if err != nil {
		return err
	}
	kid, _ := keys.KeyID(req.PublicKey())
	if *outFile == "" {
		*outFile = id + ".csr.pem"
	}
	if *outFile == "-" {
		_, err = out.Write(csr)
		return err
	}
	if err := os.WriteFile(*outFile, csr, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "new %s, pending until its certificate is imported (the current key, if any, keeps sealing)\n", what)
	fmt.Fprintf(out, "request: %s\nsubject: %s\nkey id:  %s\n", *outFile, req.CSR.Subject, kid)
	fmt.Fprintf(out, "next, on the offline CA: cardseal ca sign --dir OFFLINE_DIR --in %s --out %s.crt\n", filepath.Base(*outFile), id)
	return nil
}

func cmdKeysImport(args []string, out io.Writer) error {
	fs := newFlags("keys import")
	dir := fs.String("dir", "", "data directory")
	certFile := fs.String("cert", "", "certificate (PEM) issued by 'cardseal ca sign'")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *certFile == "" {
		return usageError{"--cert is required"}
	}
	cfg, ks, err := openKeys(*dir)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(*certFile)
	if err != nil {
		return err
	}
	cert, err := keys.ParseCertificatePEM(b)
	if err != nil {
		return fmt.Errorf("%s: %w", *certFile, err)
	}
	res, err := ks.Import(cert, time.Now())
	switch {
	case errors.Is(err, keys.ErrNoPending):
		return withHint(err, "this server made no request for that certificate; run 'cardseal keys status' to see the pending requests")
	case errors.Is(err, keys.ErrKeyMismatch):
		return withHint(err, "the certificate was issued for another request (a replaced one, or another server's)")
	case errors.Is(err, keys.ErrUntrusted):
		return withHint(err, "the certificate must be signed by the root in DIR/keys/trust.pem")
	case err != nil:
		return err
	}
	if res.Platform {
		fmt.Fprintf(out, "imported platform certificate %s, serial %X, valid to %s\n", cert.Subject.CommonName, cert.SerialNumber, day(cert.NotAfter))
	} else {
		fmt.Fprintf(out, "imported seal certificate of %s %s %s, serial %X, valid to %s\n", res.Org.Level, res.Org.Code, res.Org.Name, cert.SerialNumber, day(cert.NotAfter))
		if res.NewOrg {
			ctx := context.Background()
			if st, err := openRegistry(ctx, cfg, false); err == nil {
				err = seedOrgs(ctx, st, ks)
				st.Close()
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "recorded %s %s in the registry\n", res.Org.Code, res.Org.Name)
			} else {
				fmt.Fprintf(out, "'cardseal serve' records %s in the registry at its next start\n", res.Org.Code)
			}
		}
	}
	if res.Archived != "" {
		fmt.Fprintf(out, "previous certificate archived in %s; seals made with it stay valid\n", res.Archived)
	}
	fmt.Fprintln(out, "restart 'cardseal serve' to use the new key")
	return nil
}

// openCerts opens a keystore to read its certificates; no passphrase.
func openCerts(dir string) (*keys.FileStore, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	if !keys.Initialised(cfg.Dir) {
		return nil, withHint(fmt.Errorf("%w: %s", keys.ErrNotInitialised, cfg.Dir), "create it with 'cardseal init --dir "+cfg.Dir+" --root trust.pem'")
	}
	return keys.OpenDir(cfg.Dir, nil)
}

// certState is the verdict of `keys status` on one line: problem lines
// make the command exit 1.
func certState(st keys.CertStatus, now time.Time, within time.Duration) (state string, problem bool) {
	pending := ""
	if st.Pending {
		pending = ", request pending"
	}
	switch {
	case st.Err != nil:
		return "UNREADABLE: " + st.Err.Error(), true
	case st.Cert == nil && st.Pending:
		return "awaiting certificate", false
	case st.Cert == nil:
		return "MISSING", true
	case st.Expired(now):
		return "EXPIRED" + pending, true
	case st.Cert.NotAfter.Sub(now) < within:
		return "RENEW" + pending, false
	}
	return "ok" + pending, false
}

func cmdKeysStatus(args []string, out io.Writer) error {
	fs := newFlags("keys status")
	dir := fs.String("dir", "", "data directory")
	within := fs.Int("within", 90, "flag certificates that end within this many days")
	if err := parse(fs, args); err != nil {
		return err
	}
	ks, err := openCerts(*dir)
	if err != nil {
		return err
	}
	now := time.Now()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tID\tSERIAL\tNOT AFTER\tDAYS\tSTATE\tNAME")
	var bad, soon int
	for _, st := range ks.Status() {
		serial, end, left := "-", "-", "-"
		if st.Cert != nil {
			serial = fmt.Sprintf("%X", st.Cert.SerialNumber)
			end = day(st.Cert.NotAfter)
			left = fmt.Sprint(int(st.Cert.NotAfter.Sub(now).Hours() / 24))
		}
		state, problem := certState(st, now, time.Duration(*within)*24*time.Hour)
		if problem {
			bad++
		} else if strings.HasPrefix(state, "RENEW") {
			soon++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Kind, st.ID, serial, end, left, state, st.Name)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if soon > 0 {
		fmt.Fprintf(out, "%d certificate(s) end within %d days: renew with keys csr → ca sign → keys import\n", soon, *within)
	}
	if bad > 0 {
		fmt.Fprintf(out, "%d certificate(s) expired, missing or unreadable\n", bad)
		return exitCode(1)
	}
	return nil
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func subject(c *smx509.Certificate) string { return c.Subject.String() }

func pemCert(c *smx509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// cmdCABundle signs a trust-list bundle of other provinces' roots (Art.
// 7a) with this province's root key, on the offline machine. Servers put
// it at DATA_DIR/keys/trust-bundle.pem; cardseal verify reads it from
// there or from --trust-bundle.
func cmdCABundle(args []string, out io.Writer) error {
	fs := newFlags("ca bundle")
	dir := fs.String("dir", "", "offline CA directory (made by 'cardseal ca init')")
	outFile := fs.String("out", "", "bundle (PEM) to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" || *outFile == "" || fs.NArg() == 0 {
		return usageError{"ca bundle takes --dir, --out and the other provinces' root certificates (PEM files)"}
	}
	var roots []*smx509.Certificate
	for _, f := range fs.Args() {
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
	pass, err := offlinePassphrase(*dir)
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
		fmt.Fprintf(out, "bundled: %s (%s)\n", r.Subject.CommonName, keys.Province(r))
	}
	fmt.Fprintf(out, "signed with %s: %s\n", ca.Cert.Subject.CommonName, *outFile)
	return nil
}

// registryName is the organisation's name in the registry, "" when the
// registry cannot be read or does not know it.
func registryName(cfg *config.Config, code string) string {
	ctx := context.Background()
	st, err := openRegistry(ctx, cfg, false)
	if err != nil {
		return ""
	}
	defer st.Close()
	o, err := st.GetOrg(ctx, code)
	if err != nil {
		return ""
	}
	return o.Name
}
