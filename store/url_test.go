package store

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in      string
		backend Backend
		path    string
		shown   string // String(): never the password
	}{
		{"cardseal-data/cardseal.db", SQLite, "cardseal-data/cardseal.db", "cardseal-data/cardseal.db"},
		{"sqlite:///var/lib/cardseal/c.db", SQLite, "/var/lib/cardseal/c.db", "sqlite:///var/lib/cardseal/c.db"},
		{"sqlite://rel/c.db", SQLite, "rel/c.db", "sqlite://rel/c.db"},
		{"sqlite:c.db", SQLite, "c.db", "sqlite:c.db"},
		{"postgres://card:s3cret@db.example:5432/cardseal?sslmode=require", Postgres, "", "postgres://card:xxxxx@db.example:5432/cardseal?sslmode=require"},
		{"postgresql://card@db.example/cardseal", Postgres, "", "postgresql://card@db.example/cardseal"},
	} {
		u, err := ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if u.Backend != tc.backend || u.Path != tc.path || u.String() != tc.shown {
			t.Errorf("ParseURL(%q) = %v %q %q, want %v %q %q", tc.in, u.Backend, u.Path, u.String(), tc.backend, tc.path, tc.shown)
		}
	}
	for _, in := range []string{"", "mysql://root@localhost/db", "sqlite://", "sqlite::memory:", "sqlite://a?b.db", "file:x.db",
		"postgres://u:s3cret@h:5432", "postgres://u:s3cret@/db", "postgres://u:s3cret@h:port/db"} {
		_, err := ParseURL(in)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseURL(%q) = %v, want ErrInvalid", in, err)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseURL(%q): the password is in %q", in, err)
		}
	}
}

func TestLibpq(t *testing.T) {
	c, err := mustParseURL("postgres://card:s3cret@db.example:5432/cardseal?sslmode=verify-full&search_path=cs&application_name=x&statement_timeout=5000").Libpq()
	if err != nil {
		t.Fatal(err)
	}
	if c.Password != "s3cret" || c.Schema != "cs" || strings.Contains(c.URL, "s3cret") || strings.Contains(c.URL, "&search_path") ||
		!strings.Contains(c.URL, "options=-c%20search_path%3Dcs%20-c%20statement_timeout%3D5000") || !strings.Contains(c.URL, "sslmode=verify-full") {
		t.Fatalf("%+v", c)
	}
	if _, err := mustParseURL("x.db").Libpq(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Libpq of a SQLite URL: %v", err)
	}
}

// mustParseURL is ParseURL for URLs known to be good.
func mustParseURL(s string) URL {
	u, err := ParseURL(s)
	if err != nil {
		panic(err)
	}
	return u
}
