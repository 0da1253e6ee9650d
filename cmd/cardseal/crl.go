package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/keys"
)

// The CRL of a data directory (issue 17). A seal's /DSS carries the CRL
// installed when it was made; without one current at the seal's time,
// 'cardseal verify --offline' rejects the card. The demo province, whose
// root key is in the data directory, issues and installs its own CRL as
// the offline CA's 'ca crl' and the server's 'keys crl' would; serve and
// 'keys status' warn when none is current.

// issueCRL is 'ca crl': the next CRL of the CA in caDir, signed with its
// root key, current for next.
func issueCRL(caDir string, pass []byte, now time.Time, next time.Duration) ([]byte, error) {
	ca, err := keys.OpenCADir(caDir, pass)
	if err != nil {
		return nil, err
	}
	return keys.IssueCRL(caDir, ca, now, next)
}

// installCRL is 'keys crl': the CRL becomes the one the server publishes
// and seals carry.
func installCRL(ks *keys.FileStore, b []byte) (*smx509.RevocationList, error) {
	crl, err := ks.InstallCRL(b)
	if err != nil {
		return nil, withHint(err, "install the CRL the offline CA of this province issued, the newest one")
	}
	return crl, nil
}

// hasRootKey reports whether the data directory holds its root key: a
// demo province, whose CA directory is DATA_DIR/keys.
func hasRootKey(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "keys", "root.key"))
	return err == nil
}

// issueDemoCRL issues the demo root's next CRL and installs it, as
// 'ca crl --dir DATA_DIR/keys' then 'keys crl' would.
func issueDemoCRL(ks *keys.FileStore, pass []byte, now time.Time) (*smx509.RevocationList, error) {
	b, err := issueCRL(filepath.Join(ks.Dir(), "keys"), pass, now, keys.DefaultNextUpdate)
	if err != nil {
		return nil, fmt.Errorf("demo CRL: %w", err)
	}
	return installCRL(ks, b)
}

// crlWarning says why cards sealed now would not verify offline: no CRL
// installed, one that does not parse, or one past its nextUpdate; "" when
// a current CRL is installed.
func crlWarning(ks *keys.FileStore, now time.Time) string {
	const consequence = "cards issued now will not verify offline ('cardseal verify --offline')"
	const fix = "issue one on the offline CA ('cardseal ca crl --dir CA_DIR --out crl.pem') and install it ('cardseal keys crl --in crl.pem'); a demo data directory does it at the next start of serve"
	crls, err := ks.CRLs()
	switch {
	case err != nil:
		return fmt.Sprintf("the installed CRL cannot be read (%v): %s; %s", err, consequence, fix)
	case len(crls) == 0:
		return fmt.Sprintf("no CRL installed (keys/%s; /crl answers 404): %s; %s", keys.CRLFile, consequence, fix)
	case !now.Before(crls[0].NextUpdate):
		return fmt.Sprintf("the installed CRL number %v passed its next update on %s: %s; %s", crls[0].Number, crls[0].NextUpdate.UTC().Format(time.RFC3339), consequence, fix)
	}
	return ""
}
