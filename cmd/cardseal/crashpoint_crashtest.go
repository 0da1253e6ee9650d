//go:build crashtest

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
)

// Crash points, in binaries built with the crashtest tag only (the crash
// tests build 'cardseal' so): with CARDSEAL_CRASH_AT=after-create, the
// first card creation commits, the server prints
//
//	crash point after-create: card ID committed, holding
//
// and the request then waits forever, so the test's SIGKILL lands between
// a card's creation and its first seal every time, not by chance.
func crashPoint(reg lifecycle.Registry, out io.Writer) lifecycle.Registry {
	switch at := os.Getenv("CARDSEAL_CRASH_AT"); at {
	case "":
		return reg
	case "after-create":
		return &holdAfterCreate{Registry: reg, out: out}
	default:
		panic(fmt.Sprintf("CARDSEAL_CRASH_AT=%q: unknown crash point", at))
	}
}

type holdAfterCreate struct {
	lifecycle.Registry
	out  io.Writer
	once sync.Once
}

func (h *holdAfterCreate) CreateCard(ctx context.Context, c *card.Card, pdf0 []byte, ev audit.Event) error {
	if err := h.Registry.CreateCard(ctx, c, pdf0, ev); err != nil {
		return err
	}
	held := false
	h.once.Do(func() {
		held = true
		fmt.Fprintf(h.out, "crash point after-create: card %s committed, holding\n", c.ID)
	})
	if held {
		select {} // until the test kills the process
	}
	return nil
}
