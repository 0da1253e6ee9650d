package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jilin-health/cardseal/config"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
)

// The server's side of the key ceremony (cacmd.go has the offline side).

var cmdKeys = &command{
	name:  "keys",
	short: "the server's seal and QR-signing keys",
	long: `Keys manages the server's keys without the root key: a new key and its
certificate request ('keys csr'), the certificate the offline CA issued for it
('keys import'), and when every certificate ends ('keys status').`,
	sub: []*command{cmdKeysCSR, cmdKeysImport, cmdKeysStatus, cmdKeysCRL},
}

var cmdKeysCSR = &command{
	name:  "keys csr",
	args:  "(--org CODE [--name NAME] | --platform | --tsa) [--out FILE] [--replace] [--dir DIR]",
	short: "new pending seal key (--org CODE), QR-signing key (--platform) or time-stamping key (--tsa) and its request",
	long: `Csr makes a new key, pending until its certificate is imported, and writes its
certificate request for 'cardseal ca sign' on the offline machine: a seal key of
the organisation with the division code, the platform's QR-signing key, or the
platform's time-stamping (RFC 3161) key. The current key, if any, keeps working
meanwhile.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		orgCode := fs.String("org", "", "division code of the organisation (6, 9 or 12 digits; the level follows from it)")
		name := fs.String("name", "", "organisation name (required for a new organisation; for the platform, its certificate name)")
		platform := fs.Bool("platform", false, "request the platform's QR-signing key instead of a seal key")
		tsaKey := fs.Bool("tsa", false, "request the platform's time-stamping key instead of a seal key")
		outFile := fs.String("out", "", "request file to write (default CODE.csr.pem, platform.csr.pem or tsa.csr.pem; - for standard output)")
		replace := fs.Bool("replace", false, "discard a pending request and its key")
		return func(ctx context.Context, e *env, args []string) error {
			n := 0
			for _, set := range []bool{*orgCode != "", *platform, *tsaKey} {
				if set {
					n++
				}
			}
			if n != 1 || len(args) != 0 {
				return usageError{"give one of --org CODE, --platform or --tsa"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			ks, err := openKeys(s)
			if err != nil {
				return err
			}
			var csr []byte
			var what, id string
			switch {
			case *platform:
				id, what = "platform", "platform QR-signing key"
				csr, err = ks.RequestPlatform(*name, *replace)
			case *tsaKey:
				id, what = "tsa", "platform time-stamping key"
				csr, err = ks.RequestTSA(*name, *replace)
			default:
				code, level, nerr := org.NormalizeCode(*orgCode)
				if nerr != nil {
					return withHint(nerr, "a county code has 6 digits, a township 9, a village 12")
				}
				o := org.Org{Code: code, Level: level, Name: *name}
				if o.Name == "" {
					o.Name = registryName(ctx, s, code)
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
				_, err = e.stdout.Write(csr)
				return err
			}
			if err := os.WriteFile(*outFile, csr, 0o644); err != nil {
				return err
			}
			out := e.stdout
			fmt.Fprintf(out, "new %s, pending until its certificate is imported (the current key, if any, keeps sealing)\n", what)
			fmt.Fprintf(out, "request: %s\nsubject: %s\nkey id:  %s\n", *outFile, req.CSR.Subject, kid)
			fmt.Fprintf(out, "next, on the offline CA: cardseal ca sign --dir OFFLINE_DIR --in %s --out %s.crt\n", filepath.Base(*outFile), id)
			return nil
		}
	},
}

// registryName is the organisation's name in the registry, "" when the
// registry cannot be read or does not know it.
func registryName(ctx context.Context, s *config.Settings, code string) string {
	st, err := openRegistry(ctx, s, false)
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

var cmdKeysImport = &command{
	name:  "keys import",
	args:  "--cert CERT.pem [--dir DIR]",
	short: "install a certificate issued for a pending key; the old one is archived",
	long: `Import installs the certificate 'cardseal ca sign' issued for a pending key of
this server. It must match the pending key and chain to the root in
DIR/keys/trust.pem. The certificate it replaces is archived: seals made with
it stay valid. A new organisation is recorded in the registry. Restart
'cardseal serve' to use the new key.`,
	settings: storeFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		certFile := fs.String("cert", "", "certificate (PEM) issued by 'cardseal ca sign'")
		return func(ctx context.Context, e *env, args []string) error {
			if *certFile == "" || len(args) != 0 {
				return usageError{"--cert is required"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			ks, err := openKeys(s)
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
			res, err := ks.Import(cert, e.now())
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
			out := e.stdout
			switch {
			case res.Platform:
				fmt.Fprintf(out, "imported platform certificate %s, serial %X, valid to %s\n", cert.Subject.CommonName, cert.SerialNumber, day(cert.NotAfter))
			case res.TSA:
				fmt.Fprintf(out, "imported time-stamping certificate %s, serial %X, valid to %s\n", cert.Subject.CommonName, cert.SerialNumber, day(cert.NotAfter))
			default:
				fmt.Fprintf(out, "imported seal certificate of %s %s %s, serial %X, valid to %s\n", res.Org.Level, res.Org.Code, res.Org.Name, cert.SerialNumber, day(cert.NotAfter))
				if res.NewOrg {
					if st, err := openRegistry(ctx, s, false); err == nil {
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
	},
}

var cmdKeysStatus = &command{
	name:  "keys status",
	args:  "[--dir DIR] [--within 90]",
	short: "list certificates and when they end (exit 1 if any expired or missing)",
	long: `Status lists the data directory's certificates, their serials and when they
end, and flags those ending within --within days (RENEW) and those expired,
missing or unreadable, which make it exit 1. It shows the installed CRL, and a
WARNING when none is installed or it is past its next update: cards sealed then
will not verify offline. It needs no passphrase.`,
	settings: dirFlag,
	flags: func(fs *flag.FlagSet) runFunc {
		within := fs.Int("within", 90, "flag certificates that end within this many days")
		return func(ctx context.Context, e *env, args []string) error {
			if len(args) != 0 {
				return usageError{"keys status takes no arguments"}
			}
			s, err := e.settings()
			if err != nil {
				return err
			}
			ks, err := openCerts(s)
			if err != nil {
				return err
			}
			return printKeyStatus(e, ks, time.Duration(*within)*24*time.Hour)
		}
	},
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

func printKeyStatus(e *env, ks *keys.FileStore, within time.Duration) error {
	now := e.now()
	out := e.stdout
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
		state, problem := certState(st, now, within)
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
	if w := crlWarning(ks, now); w != "" {
		fmt.Fprintf(out, "WARNING: %s\n", w)
	} else if crls, _ := ks.CRLs(); len(crls) == 1 {
		fmt.Fprintf(out, "CRL number %v installed, next update %s\n", crls[0].Number, crls[0].NextUpdate.UTC().Format(time.RFC3339))
	}
	if soon > 0 {
		fmt.Fprintf(out, "%d certificate(s) end within %d days: renew with keys csr → ca sign → keys import\n", soon, int(within.Hours()/24))
	}
	if bad > 0 {
		fmt.Fprintf(out, "%d certificate(s) expired, missing or unreadable\n", bad)
		return exitCode(1)
	}
	return nil
}
