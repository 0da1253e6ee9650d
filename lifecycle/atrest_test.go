package lifecycle

import (
	"bytes"
	"compress/zlib"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/internal/testtool"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
)

// Personal data at rest (issue 12, M1), checked the way someone holding a
// copy of the database would: every value of every table, read out of a
// raw SQLite file and out of a pg_dump of the PostgreSQL schema; every
// Flate stream of anything that looks like a PDF inflated, and the text
// of every such PDF extracted with pdftotext. No applicant's name or ID
// number may appear anywhere. The same search run over the documents as
// the service reads them (decrypted) must find them, or the search
// proves nothing.

// withCheckDigit completes 17 digits to a resident ID number (GB 11643).
func withCheckDigit(first17 string) string {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(first17[i]-'0') * weights[i]
	}
	return first17 + string("10X98765432"[sum%11])
}

// couple is an application of the example's shape for another couple.
func couple(t *testing.T, male, female, maleID, femaleID string) *card.Applicant {
	t.Helper()
	a := example(t)
	a.Male.Name, a.Female.Name = male, female
	a.Male.IDNumber, a.Female.IDNumber = withCheckDigit(maleID), withCheckDigit(femaleID)
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	return a
}

// secretsOf are the values of an application that must not be readable
// at rest: the names and ID numbers of everyone in it.
func secretsOf(a *card.Applicant) []string {
	out := []string{a.Male.Name, a.Male.IDNumber, a.Female.Name, a.Female.IDNumber}
	for _, c := range a.Children {
		out = append(out, c.Name)
	}
	if a.Proxy != nil {
		out = append(out, a.Proxy.Name, a.Proxy.IDNumber)
	}
	return out
}

// atRest is a registry holding one of every kind of document, and the
// secrets of its applications.
type atRest struct {
	s       *Service
	secrets []string
	docs    [][]byte // every document as the service reads it
}

func populate(t *testing.T, st *store.DB, ks keys.Store) *atRest {
	t.Helper()
	ctx := context.Background()
	s := NewService(st, ks, "http://127.0.0.1:8080")
	if err := SyncOrgs(ctx, st, ks.(*keys.FileStore)); err != nil {
		t.Fatal(err)
	}
	village, town, county := actor(t, st, "220102001001"), actor(t, st, "220102001"), actor(t, st, "220102")
	r := &atRest{s: s}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// An issued card.
	a1 := example(t)
	c1, err := s.Apply(ctx, village, a1)
	must(err)
	for _, a := range []Actor{village, town, county} {
		_, err = s.Seal(ctx, a, c1.ID)
		must(err)
	}
	// A one-time notice, then a refusal.
	a2 := couple(t, "张伟", "刘芳", "22010219880412003", "22010219900918002")
	a2.Materials = map[card.Material]card.MaterialState{card.MatIDCards: card.Provided, card.MatHukou: card.PopulationDB}
	c2, err := s.Apply(ctx, village, a2)
	must(err)
	n1, err := s.Notify(ctx, village, c2.ID)
	must(err)
	n2, err := s.Refuse(ctx, village, c2.ID, []string{"结婚证未提供。"})
	must(err)
	// A re-birth application with its approval form, sealed twice.
	a3 := couple(t, "陈静", "杨洋", "22010219850101001", "22010219870202002")
	a3.Type, a3.ChildOrder = card.Rebirth, 2
	a3.StatusCert = &card.StatusCert{Number: "HY-2026-07", Issuer: "永安社区居民委员会"}
	a3.Children = []card.Child{{Name: "陈晨", Sex: "男", BirthDate: "2019-06-01"}}
	must(a3.Validate())
	c3, err := s.Apply(ctx, village, a3)
	must(err)
	f, err := s.CreateRebirthForm(ctx, county, c3.ID, "长子经鉴定为非遗传性残疾。", "")
	must(err)
	_, err = s.SealForm(ctx, county, f.ID)
	must(err)
	f2, err := s.SealForm(ctx, town, f.ID)
	must(err)
	// An online application whose material is a PDF naming the couple
	// (a scan would; here the couple's own rendered card) and a photo.
	a4 := couple(t, "赵磊", "孙丽", "22010219910303003", "22010219930404004")
	scan, err := Render(ctx, st, &Draft{Number: "2201022026999999", Applicant: a4, IssueDate: s.Now(), StatusIndex: 1}, s.publicURL)
	must(err)
	c4, err := s.ApplyOnline(ctx, a4, []Upload{{Material: card.MatIDCards, ContentType: "application/pdf", Data: scan.PDF}}, "192.0.2.1")
	must(err)

	for _, a := range []*card.Applicant{a1, a2, a3, a4} {
		r.secrets = append(r.secrets, secretsOf(a)...)
	}
	// Every document, read back through the service.
	for _, c := range []*card.Card{c1, c2, c3, c4} {
		cc, err := s.Peek(ctx, county, c.ID)
		must(err)
		pdf, err := s.PDF(ctx, county, cc)
		must(err)
		r.docs = append(r.docs, pdf)
	}
	for _, n := range []*card.Notice{n1, n2} {
		got, err := s.Notice(ctx, village, n.CardID, n.Seq)
		must(err)
		r.docs = append(r.docs, got.PDF)
	}
	got, err := s.Form(ctx, county, f2.ID)
	must(err)
	r.docs = append(r.docs, got.PDF)
	c4r, err := s.Peek(ctx, village, c4.ID)
	must(err)
	atts, err := s.Attachments(ctx, village, c4r)
	must(err)
	if len(atts) != 1 || !bytes.Equal(atts[0].Data, scan.PDF) {
		t.Fatal("the attachment does not read back as sent")
	}
	r.docs = append(r.docs, atts[0].Data)
	return r
}

// encodings are the ways a PDF or a dump may spell a string.
func encodings(s string) [][]byte {
	u16 := utf16.Encode([]rune(s))
	be := make([]byte, 0, 2*len(u16))
	for _, u := range u16 {
		be = append(be, byte(u>>8), byte(u))
	}
	return [][]byte{[]byte(s), be, []byte(strings.ToUpper(hex.EncodeToString(be))), []byte(hex.EncodeToString(be))}
}

var streamRE = regexp.MustCompile(`(?s)stream\r?\n(.*?)endstream`)

// readable returns the secrets readable in v: in its bytes, in any Flate
// stream inflated, and, if v holds a PDF, in pdftotext's output.
func readable(t *testing.T, v []byte, secrets []string) []string {
	t.Helper()
	texts := [][]byte{v}
	if i := bytes.Index(v, []byte("%PDF-")); i >= 0 {
		pdf := v[i:]
		for _, m := range streamRE.FindAllSubmatch(pdf, -1) {
			zr, err := zlib.NewReader(bytes.NewReader(m[1]))
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(zr, 64<<20)) // a truncated stream still yields its start
			texts = append(texts, b)
		}
		f := filepath.Join(t.TempDir(), "blob.pdf")
		if err := os.WriteFile(f, pdf, 0o600); err != nil {
			t.Fatal(err)
		}
		// pdftotext fails on what is not a whole PDF; what it prints
		// before failing counts.
		out, _ := exec.Command(testtool.Require(t, "pdftotext"), "-enc", "UTF-8", f, "-").Output()
		texts = append(texts, out)
	}
	var found []string
	for _, sec := range secrets {
		for _, tx := range texts {
			hit := false
			for _, enc := range encodings(sec) {
				hit = hit || bytes.Contains(tx, enc)
			}
			if hit {
				found = append(found, sec)
				break
			}
		}
	}
	return found
}

// sqliteValues reads every value of every table of a SQLite database
// file, and the raw bytes of the file and its write-ahead log.
func sqliteValues(t *testing.T, path string) [][]byte {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	var out [][]byte
	for _, tb := range tables {
		rows, err := db.Query(`SELECT * FROM "` + tb + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				switch x := v.(type) {
				case []byte:
					out = append(out, x)
				case string:
					out = append(out, []byte(x))
				}
			}
		}
		rows.Close()
	}
	for _, p := range []string{path, path + "-wal"} {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, b)
		}
	}
	return out
}

var byteaRE = regexp.MustCompile(`\\\\x([0-9a-f]*)`)

// pgDumpValues runs pg_dump over the test's schema only (other tests'
// schemas share the database) and returns the dump and every bytea value
// in it, decoded.
func pgDumpValues(t *testing.T, dbURL string) [][]byte {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("search_path")
	if schema == "" {
		t.Fatalf("the test database URL names no schema: %s", dbURL)
	}
	q.Del("search_path")
	u.RawQuery = q.Encode()
	pgDump, err := exec.LookPath("pg_dump")
	if err != nil {
		// CARDSEAL_TEST_POSTGRES is set (this subtest runs only then):
		// the check must run, not skip.
		t.Fatal("pg_dump not found (Debian package postgresql-client): the PostgreSQL half of the at-rest check cannot run")
	}
	out, err := exec.Command(pgDump, "--data-only", "--schema="+schema, u.String()).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !bytes.Contains(out, []byte("COPY "+schema+".card_pdfs")) {
		t.Fatalf("the dump holds no card_pdfs table:\n%.2000s", out)
	}
	vals := [][]byte{out}
	for _, m := range byteaRE.FindAllSubmatch(out, -1) {
		b := make([]byte, hex.DecodedLen(len(m[1])))
		if _, err := hex.Decode(b, m[1]); err != nil {
			t.Fatalf("bytea in the dump: %v", err)
		}
		vals = append(vals, b)
	}
	return vals
}

// TestNothingReadableAtRest: no name or ID number of any applicant can
// be read from the database's files, whichever backend, however the
// document is encoded.
func TestNothingReadableAtRest(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		st, dbURL := open(t)
		r := populate(t, st, demoKeys(t))

		// The search finds the secrets where they are readable: in the
		// documents as the service reads them.
		var seen []string
		for _, d := range r.docs {
			seen = append(seen, readable(t, d, r.secrets)...)
		}
		for _, sec := range r.secrets {
			if !strings.Contains(strings.Join(seen, "\x00")+"\x00", sec+"\x00") {
				t.Fatalf("the search does not find %q even in the decrypted documents: it would prove nothing", sec)
			}
		}

		var vals [][]byte
		if strings.HasPrefix(dbURL, "postgres") {
			vals = pgDumpValues(t, dbURL)
		} else {
			vals = sqliteValues(t, strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite://"), "sqlite:"))
		}
		if len(vals) < 20 {
			t.Fatalf("only %d values read from the database", len(vals))
		}
		for i, v := range vals {
			if found := readable(t, v, r.secrets); len(found) > 0 {
				t.Errorf("value %d of the database (%d bytes, starting %q) reveals %q", i, len(v), v[:min(len(v), 16)], found)
			}
		}
	})
}

// TestMovedDocumentDoesNotDecrypt: a stored document copied into another
// row — another revision of the card, another card — does not decrypt
// there: the associated data names the row. The restore check reports it.
func TestMovedDocumentDoesNotDecrypt(t *testing.T) {
	st, _ := storetest.Open(t)
	ks := demoKeys(t)
	r := populate(t, st, ks)
	ctx := context.Background()
	cards, err := st.ListCards(ctx, card.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	issued, other := cards[0], cards[1]
	if issued.Seq != 3 {
		t.Fatalf("first card at revision %d", issued.Seq)
	}
	county := actor(t, st, "220102")
	ch := NewChecker(r.s)
	if _, err := ch.VerifyStored(ctx, &issued); err != nil {
		t.Fatal(err)
	}
	var rev2, otherRev0 []byte
	if err := st.RewriteCard(ctx, other.ID, func(s *card.Stored) error { otherRev0 = s.PDFs[0]; return nil }); err != nil {
		t.Fatal(err)
	}
	// Revision 2 stored as revision 3.
	if err := st.RewriteCard(ctx, issued.ID, func(s *card.Stored) error {
		rev2 = s.PDFs[2]
		s.PDFs[3] = rev2
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.PDF(ctx, county, &issued); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("revision 2 read as revision 3: %v", err)
	}
	if _, err := ch.VerifyStored(ctx, &issued); !errors.Is(err, ErrRecordMismatch) {
		t.Fatalf("restore check of a moved revision: %v", err)
	}
	// Another card's revision 0 as this card's revision 0.
	if err := st.RewriteCard(ctx, issued.ID, func(s *card.Stored) error { s.PDFs[0] = otherRev0; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.reg.PDF(ctx, issued.ID, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("another card's revision read as this card's: %v", err)
	}
	// The applicant record of another card.
	issued.Applicant = other.Applicant
	if _, err := r.s.Applicant(&issued); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("another card's applicant record: %v", err)
	}
}

// TestMovedNoticeAndAttachmentDoNotDecrypt: the notices of a card are
// bound to their kind and number, attachments to their number.
func TestMovedNoticeAndAttachmentDoNotDecrypt(t *testing.T) {
	p, err := newPrivacy(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte("%PDF-1.7 a notice")
	enc := p.seal(noticeSlot("0123456789abcdef", card.NoticeMissing, "2201022026000001-N1"), doc)
	for _, sl := range []slot{
		noticeSlot("0123456789abcdef", card.NoticeMissing, "2201022026000001-N2"),
		noticeSlot("0123456789abcdef", card.NoticeRefusal, "2201022026000001-N1"),
		noticeSlot("0123456789abcdee", card.NoticeMissing, "2201022026000001-N1"),
		pdfSlot("0123456789abcdef", 1),
		formSlot("0123456789abcdef", "fedcba9876543210", 1),
	} {
		if _, err := p.open(sl, enc); !errors.Is(err, ErrCorrupt) {
			t.Errorf("notice opened as %s: %v", sl.ad, err)
		}
	}
	if got, err := p.open(noticeSlot("0123456789abcdef", card.NoticeMissing, "2201022026000001-N1"), enc); err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("notice in its own row: %v", err)
	}
	att := p.seal(attachmentSlot("0123456789abcdef", 1), []byte("photo"))
	if _, err := p.open(attachmentSlot("0123456789abcdef", 2), att); !errors.Is(err, ErrCorrupt) {
		t.Errorf("attachment 1 opened as attachment 2: %v", err)
	}
	// A plaintext value is a document written before encryption only
	// where documents live: never an applicant record or an attachment.
	for _, sl := range []slot{applicantSlot("0123456789abcdef"), attachmentSlot("0123456789abcdef", 1)} {
		if _, err := p.open(sl, doc); !errors.Is(err, ErrCorrupt) {
			t.Errorf("plaintext accepted as %s: %v", sl.ad, err)
		}
	}
}
