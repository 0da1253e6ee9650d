package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/statuslist"
	"github.com/jilin-health/cardseal/token"
	"github.com/jilin-health/cardseal/verifier"
)

var cmdVerify = &command{
	name:  "verify",
	args:  "[--dir DIR | --trust roots.pem] [--crl CRL.pem | --offline] [--json] [--policy card] CARD.pdf",
	short: "check every seal of a PDF (exit 0 valid, 1 invalid or incomplete, 2 could not check)",
	long: `Verify checks a card PDF's seal chain against the trusted roots: each seal's
signature and certificate, the order village → township → county, the
jurisdiction, and that nothing was changed after the last seal. It prints the
report (--json: as JSON) and exits 0 when the card is valid, 1 when it is
invalid or incomplete, 2 when it could not be checked.

The roots are the data directory's trust list, or --trust; other provinces'
roots come in a trust bundle signed by ours (Art. 7a): --trust-bundle, or
DIR/keys/trust-bundle.pem when present.

With --offline alone it validates a card with the data embedded in it (PAdES
B-LT/B-LTA, docs/seal-format.md "Long-term validation"): the roots of the trust
list given, the certificates and CRLs of the document's /DSS and nothing else;
the report names the validation time it used (the latest document timestamp,
else the latest signature timestamp). A card without /DSS is invalid offline.

With --offline --status LIST.json it checks a card PDF (or a version-1 QR URL or
token) against a signed status list (from /api/v1/status-list) with no network:
exit 0 valid, 1 voided, revoked, superseded, forged or a stale list.`,
	settings: dirFlag,
	errExit:  2,
	flags: func(fs *flag.FlagSet) runFunc {
		trust := fs.String("trust", "", "PEM bundle of trusted root certificates (instead of --dir)")
		asJSON := fs.Bool("json", false, "print the report as JSON")
		policy := fs.String("policy", "card", "chain policy: card (a re-birth card its county seal claims as rebirth-direct is accepted, Art. 17), rebirth-direct, rebirth-form or notice")
		offline := fs.Bool("offline", false, "validate with the document's embedded /DSS data alone; with --status, check against a signed status list")
		status := fs.String("status", "", "signed status list (JSON) for --offline")
		bundle := fs.String("trust-bundle", "", "other provinces' roots, signed by our root (Art. 7a; default DIR/keys/trust-bundle.pem when present)")
		crlFile := fs.String("crl", "", "certificate revocation list of the root (PEM or DER, from /crl or 'ca crl'; default DIR/keys/crl.pem when present)")
		return func(ctx context.Context, e *env, args []string) error {
			if *offline && *status == "" {
				if len(args) != 1 {
					return usageError{"verify --offline takes one card PDF (with --status LIST.json: a PDF, QR URL or token)"}
				}
				if *crlFile != "" {
					return usageError{"verify --offline takes the revocation data from the document's /DSS alone; drop --crl"}
				}
			}
			if *offline && *status != "" {
				if len(args) != 1 {
					return usageError{"verify --offline takes --status LIST.json and one card PDF, QR URL or token"}
				}
				tl, err := trustList(e, *trust)
				if err != nil {
					return err
				}
				crls, err := loadCRLs(e, *crlFile, *trust != "")
				if err != nil {
					return err
				}
				return verifyOffline(tl, crls, *status, args[0], *asJSON, e)
			}
			if len(args) != 1 {
				return usageError{"verify takes one PDF file"}
			}
			pol, ok := chain.ForName(*policy)
			if !ok {
				return usageError{fmt.Sprintf("unknown policy %q", *policy)}
			}
			tl, err := trustList(e, *trust)
			if err != nil {
				return err
			}
			if tl, err = addBundle(tl, e, *bundle); err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			opt := verifier.Options{Trust: tl, Policy: pol, SealBoxes: lifecycle.SealBoxes(pol), Offline: *offline}
			if !*offline {
				if opt.CRLs, err = loadCRLs(e, *crlFile, *trust != ""); err != nil {
					return err
				}
			}
			rep, err := verifier.Verify(data, opt)
			if err != nil {
				return withHint(err, "give a PDF file")
			}
			if *asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WriteText(e.stdout)
			}
			if rep.Verdict != verifier.Valid {
				return exitCode(1)
			}
			return nil
		}
	},
}

// trustList loads the roots to trust: a bundle file, or the data
// directory's trust list (which needs no key passphrase).
func trustList(e *env, bundle string) (*keys.TrustList, error) {
	if bundle == "" {
		s, err := e.settings()
		if err != nil {
			return nil, err
		}
		bundle = filepath.Join(s.Dir, "keys", "trust.pem")
	}
	b, err := os.ReadFile(bundle)
	if err != nil {
		return nil, withHint(err, "pass --dir DATA_DIR or --trust roots.pem")
	}
	return keys.ParseTrustList(b)
}

// offlineAnswer is the result of an offline check.
type offlineAnswer struct {
	Status       string    `json:"status"` // valid | voided | revoked | superseded | forged
	Number       string    `json:"number,omitempty"`
	CardType     string    `json:"card_type,omitempty"`
	County       string    `json:"county_code,omitempty"`
	IssueDate    string    `json:"issue_date,omitempty"`
	ListIssued   time.Time `json:"status_list_issued"`
	ListStale    bool      `json:"status_list_stale"`
	SealsChecked bool      `json:"seals_checked"` // true for a card PDF; false for a version-1 token (only it and the list are checked)
}

// loadCRLs reads the CRL of --crl, or DATA_DIR/keys/crl.pem when the
// roots come from the data directory and it has one.
func loadCRLs(e *env, file string, ownTrust bool) ([]*smx509.RevocationList, error) {
	if file == "" {
		if ownTrust {
			return nil, nil
		}
		s, err := e.settings()
		if err != nil {
			return nil, err
		}
		file = filepath.Join(s.Dir, "keys", keys.CRLFile)
		if _, err := os.Stat(file); err != nil {
			return nil, nil
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	crl, err := keys.ParseCRL(b)
	if err != nil {
		return nil, withHint(fmt.Errorf("%s: %w", file, err), "give the CRL from the service's /crl or from 'cardseal ca crl'")
	}
	return []*smx509.RevocationList{crl}, nil
}

func verifyOffline(tl *keys.TrustList, crls []*smx509.RevocationList, listFile, scanned string, asJSON bool, e *env) error {
	out := e.stdout
	b, err := os.ReadFile(listFile)
	if err != nil {
		return err
	}
	list, cert, err := statuslist.Parse(b, tl, e.now())
	stale := errors.Is(err, statuslist.ErrStale)
	if err != nil && !stale {
		return withHint(err, "fetch a fresh list from /api/v1/status-list and check it with the province's trust list")
	}
	a := offlineAnswer{ListIssued: list.Issued, ListStale: stale}
	if doc, err := os.ReadFile(scanned); err == nil && bytes.HasPrefix(doc, []byte("%PDF-")) {
		oc, err := lifecycle.CheckOffline(doc, tl, list, crls...)
		if err != nil {
			return withHint(err, "give a card PDF rendered with a version-2 token, or a version-1 card's QR URL")
		}
		a.Status, a.Number, a.SealsChecked = oc.Status, oc.Report.DocID, true
	} else if _, err := token.ParseHandle(token.Normalize(scanned)); err == nil {
		return withHint(errors.New("a version-2 QR code holds only a random handle: there is nothing in it to check offline"),
			"check the card online, or check its PDF offline: cardseal verify --offline --status LIST.json card.pdf")
	} else {
		claims, _, err := token.Verify(token.FromURL(scanned), []*smx509.Certificate{cert})
		switch {
		case err != nil:
			a.Status = "forged"
		default:
			a.Number, a.CardType, a.County = claims.Number, string(claims.Type), claims.County
			a.IssueDate = claims.IssueDate.Format("2006-01-02")
			a.Status = "valid"
			if p := list.Status(claims.StatusIndex); p != "" {
				a.Status = string(p)
			}
		}
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(a); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "status: %s\n", a.Status)
		switch {
		case a.Number != "" && a.CardType != "":
			fmt.Fprintf(out, "card: %s (%s), county %s, issued %s\n", a.Number, a.CardType, a.County, a.IssueDate)
		case a.Number != "":
			fmt.Fprintf(out, "card: %s\n", a.Number)
		}
		fmt.Fprintf(out, "status list issued %s", a.ListIssued.Format(time.RFC3339))
		if stale {
			fmt.Fprint(out, " — STALE: past its valid-until time")
		}
		if a.SealsChecked {
			fmt.Fprintln(out, "\nthe card's seals were checked offline, and its status-list index read from revision 0, which they cover")
		} else {
			fmt.Fprintln(out, "\nthe QR token's signature was checked offline; the seals are checked by the online service or by verifying the PDF")
		}
	}
	if a.Status != "valid" || stale {
		return exitCode(1)
	}
	return nil
}

// addBundle adds a trust bundle's roots: the one named, or the data
// directory's keys/trust-bundle.pem when it exists.
func addBundle(tl *keys.TrustList, e *env, bundle string) (*keys.TrustList, error) {
	if bundle == "" {
		s, err := e.settings()
		if err != nil {
			return nil, err
		}
		p := filepath.Join(s.Dir, "keys", "trust-bundle.pem")
		if _, err := os.Stat(p); err != nil {
			return tl, nil
		}
		bundle = p
	}
	b, err := os.ReadFile(bundle)
	if err != nil {
		return nil, err
	}
	out, err := keys.WithBundle(tl, b)
	if err != nil {
		return nil, withHint(err, "the bundle must be signed by this province's root (cardseal ca bundle on the offline machine)")
	}
	return out, nil
}
