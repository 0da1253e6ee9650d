package templates

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
)

var (
	demoCounty   = org.Org{Code: "220102", Level: org.County, Name: "长春市南关区卫生健康局"}
	demoTownship = org.Org{Code: "220102001", Level: org.Township, Name: "永吉街道办事处"}
	demoVillage  = org.Org{Code: "220102001001", Level: org.Village, Name: "永安社区居民委员会"}
)

// demoURL is a realistic verification URL: host, path and a 200-character
// Base32 token (upper case, QR alphanumeric).
func demoURL() string {
	const b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var sb strings.Builder
	sb.WriteString("HTTP://127.0.0.1:8080/V/")
	for i := 0; i < 200; i++ {
		sb.WriteByte(b32[(i*7+i/5)%32])
	}
	return sb.String()
}

func demoApplicant(t testing.TB) *card.Applicant {
	t.Helper()
	data, err := os.ReadFile("../examples/applicant.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := card.ParseApplicant(data)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func demoCard(t testing.TB) *CardData {
	return &CardData{
		Number:           "220102-2026-000123",
		Type:             card.First,
		Applicant:        demoApplicant(t),
		Village:          demoVillage,
		Township:         demoTownship,
		County:           demoCounty,
		IssueDate:        time.Date(2026, 11, 28, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)),
		QRURL:            demoURL(),
		VerificationCode: "7K3Q-9XWD-M2PA",
	}
}
