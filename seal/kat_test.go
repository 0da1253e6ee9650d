package seal

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
)

var updateKAT = flag.Bool("update-kat", false, "rewrite testdata/kat-*.der")

// The known-answer vector of docs/seal-format.md. Test-only keys.
const (
	katRootScalar  = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"
	katOrgScalar   = "128b2fa8bd433c6c068c8d803dff79792a519a55171b1b650c23661d15897263"
	katSignedAttrs = "31820156301806092a864886f70d010903310b06092a864886f70d010701301c06092a864886f70d010905310f170d32" +
		"36313132383039333031355a302f06092a864886f70d01090431220420aa5ab87123ba7455f024c056e32de797428282" +
		"6a933445390dd57fdc699b120e305c061369cbc88acf87aeaa8aad8aa59295ce90d89950314530430201010a01021309" +
		"3232303130323030310c0e4a4c2d323032362d3030303030310420986bfb6048fdbb51896749a27749a5f038fc085b77" +
		"dbcbc07bc8bb6102d8b3d630818c060b2a864886f70d010910022f317d307b30793077300a06082a811ccf5501831104" +
		"2044437ead2991f2f95f7e742da995850c1c66d22561cbac2595982ad6918c99c33047303ea43c303a310b3009060355" +
		"04061302434e310e300c060355040813054a696c696e311b301906035504031312636172647365616c20746573742072" +
		"6f6f7402052201020010"
	katSealSM3 = "616f0f80aced12fbcf5c81adb220873136344396a43f853b38127b2c67fe7d43"
)

func katInputs(t testing.TB) (digest []byte, id *keys.Identity, link Link, at time.Time) {
	root := newRoot(t, katRootScalar)
	id = root.newIdentity(t, katOrgScalar, 0x2201020010, org.Township, "220102001")
	link = Link{Level: org.Township, Code: "220102001", DocID: "JL-2026-000001", Prev: digestOf("cardseal previous seal")}
	return digestOf("cardseal test vector"), id, link, time.Date(2026, 11, 28, 9, 30, 15, 0, time.UTC)
}

func TestKnownAnswer(t *testing.T) {
	digest, id, link, at := katInputs(t)
	der, err := Sign(digest, id, link, at, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(digest); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"kat-root.der": id.Chain[0].Raw, "kat-org.der": id.Cert.Raw, "kat-seal.der": der}
	if *updateKAT {
		for name, b := range files {
			if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("signed attributes %x", s.signedAttrs)
	t.Logf("signature %x", s.signature)
	t.Logf("SM3(seal) %x", Digest(der))
	if got := hex.EncodeToString(s.signedAttrs); got != katSignedAttrs {
		t.Errorf("signed attributes\n got %s\nwant %s", got, katSignedAttrs)
	}
	if got := hex.EncodeToString(Digest(der)); got != katSealSM3 {
		t.Errorf("SM3 of the seal = %s, want %s", got, katSealSM3)
	}
	for name, b := range files {
		want, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s differs from testdata", name)
		}
	}
}
