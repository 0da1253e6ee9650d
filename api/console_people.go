package api

import (
	"context"

	"github.com/jilin-health/cardseal/lifecycle"
)

// Who acted, as a person (issue 16): staff accounts are per person and
// carry the person's name (staff.User.DisplayName); a card's history
// shows 操作人 as "name（username）". The audit log records the username,
// which names the account for good; the name is looked up when shown.

// personNames looks up display names by username, each once per page.
type personNames struct {
	s     *server
	ctx   context.Context
	cache map[string]string
}

func (s *server) personNames(ctx context.Context) *personNames {
	return &personNames{s: s, ctx: ctx, cache: map[string]string{}}
}

// of is how the console shows the actor of an event: the person's name
// with the username, the username alone for an account without a name,
// and the applicant for an application made online.
func (p *personNames) of(username string) string {
	if v, ok := p.cache[username]; ok {
		return v
	}
	v := username
	switch {
	case username == lifecycle.CitizenActor:
		v = "申请人（网上申请）"
	default:
		if u, err := p.s.staff.User(p.ctx, username); err == nil && u.DisplayName != "" {
			v = u.DisplayName + "（" + username + "）"
		}
	}
	p.cache[username] = v
	return v
}
