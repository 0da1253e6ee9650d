package api

import (
	"context"

	"github.com/jilin-health/cardseal/lifecycle"
)

// actorOfUser is a demo organisation's staff member as the service sees
// them, for tests that call the service directly.
func (v *env) actorOfUser(code string) lifecycle.Actor {
	v.t.Helper()
	o, err := v.st.GetOrg(context.Background(), code)
	if err != nil {
		v.t.Fatal(err)
	}
	return lifecycle.Actor{Username: code, Org: o, RemoteAddr: "192.0.2.10"}
}

// currentPDF is the newest revision of a card's PDF as the service reads
// it: the store keeps it encrypted (lifecycle/privacy.go).
func (v *env) currentPDF(cardID string) []byte {
	v.t.Helper()
	ctx := context.Background()
	a := v.actorOfUser("220102")
	c, err := v.svc.Peek(ctx, a, cardID)
	if err != nil {
		v.t.Fatal(err)
	}
	pdf, err := v.svc.PDF(ctx, a, c)
	if err != nil {
		v.t.Fatal(err)
	}
	return pdf
}
