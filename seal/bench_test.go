package seal

import (
	"testing"

	"github.com/jilin-health/cardseal/org"
)

func BenchmarkSign(b *testing.B) {
	id := testIdentity(b)
	link := Link{Level: org.Village, Code: "220102001001", DocID: "card-1", Prev: digestOf("p")}
	digest := digestOf("pdf")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(digest, id, link, signTime, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMaxSize(b *testing.B) {
	id := testIdentity(b)
	link := Link{Level: org.Village, Code: "220102001001", DocID: "card-1", Prev: digestOf("p")}
	b.ReportAllocs()
	for b.Loop() {
		MaxSize(id, link, Options{})
	}
}

func BenchmarkParseVerify(b *testing.B) {
	id := testIdentity(b)
	link := Link{Level: org.Village, Code: "220102001001", DocID: "card-1", Prev: digestOf("p")}
	digest := digestOf("pdf")
	der, err := Sign(digest, id, link, signTime, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := Parse(der)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Verify(digest); err != nil {
			b.Fatal(err)
		}
	}
}
