package main

import (
	"context"
	"encoding/json"
	"os/user"
	"strings"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/staff"
	"github.com/jilin-health/cardseal/store"
)

// Organisations and staff users are kept in the registry (the database).
// The org and user commands change it directly, with the server running
// or not; each change is one audit event by the actor "admin-cli", whose
// detail names the operating-system user who ran the command.

const adminActor = "admin-cli"

// adminStore opens the registry of the command's settings. It never
// creates a SQLite file: a mistyped --dir must not start an empty
// registry.
func adminStore(ctx context.Context, e *env) (*store.DB, error) {
	s, err := e.settings()
	if err != nil {
		return nil, err
	}
	return openRegistry(ctx, s, false)
}

// adminEvent records an admin change.
func adminEvent(ctx context.Context, st *store.DB, action audit.Action, orgCode string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	if u, err := user.Current(); err == nil {
		detail["os_user"] = u.Username
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = st.AppendAudit(ctx, audit.Event{Actor: adminActor, OrgCode: orgCode, Action: action, Detail: b})
	return err
}

// adminStaff opens the registry and the staff service over it; changes
// are audited as made by adminActor, naming the operating-system user.
func adminStaff(ctx context.Context, e *env) (*store.DB, *staff.Service, staff.Admin, error) {
	st, err := adminStore(ctx, e)
	if err != nil {
		return nil, nil, staff.Admin{}, err
	}
	by := staff.Admin{Name: adminActor}
	if u, err := user.Current(); err == nil {
		by.Remote = "os-user:" + u.Username
	}
	sv := staff.NewService(st, st, st, staff.Policy{})
	sv.Now = e.now
	return st, sv, by, nil
}

// shellQuote quotes s for a shell command line shown to the operator.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
