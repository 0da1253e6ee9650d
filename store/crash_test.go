package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/store/internal/testdb"
)

// crashChildEnv carries the database URL to the child process that
// TestCrash kills.
const crashChildEnv = "CARDSEAL_STORE_CRASH_CHILD"

// TestCrashChild is not a test on its own: run by TestCrash in a child
// process, it creates and seals cards until it is killed.
func TestCrashChild(t *testing.T) {
	url := os.Getenv(crashChildEnv)
	if url == "" {
		t.Skip("runs only as TestCrash's child process")
	}
	ctx := context.Background()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for {
		c := newCard(t, s)
		for seq, l := range org.Levels {
			status := card.StatusDraft
			if l == org.County {
				status = card.StatusIssued
			}
			// A big revision makes the window inside the write wider.
			pdf := append(pdfRev(c.ID, seq+1), bytes.Repeat([]byte{'x'}, 256<<10)...)
			if err := addSeal(ctx, s, c.ID, seq, pdf, sealAt(l), status, nextAfter(l), sealEvent(l)); err != nil {
				t.Fatal(err)
			}
			// Tells the parent a seal committed: it kills only after one.
			fmt.Fprintf(os.Stdout, "%s %d\n", crashSealed, seq+1)
		}
	}
}

// crashSealed starts the line the child prints after each committed seal.
const crashSealed = "crash child: sealed"

// syncBuffer is a buffer written by a child process and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCrashSQLite(t *testing.T) {
	testCrash(t, "sqlite://"+filepath.Join(t.TempDir(), "crash.db"))
}

func TestCrashPostgres(t *testing.T) {
	testCrash(t, testdb.Postgres(t))
}

// testCrash SIGKILLs a process that is sealing cards, several times, and
// then checks that every card is exactly as some committed transaction
// left it: its revision, seal records, PDFs, status and audit chain agree.
func testCrash(t *testing.T, url string) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	ctx := context.Background()
	s := mustOpen(t, url)
	seedOrgs(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+url)
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill a while after the child's first committed seal of the
		// round, however slowly it started on a loaded machine: the kill
		// lands among the writes that follow, never before the first.
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(out.String(), crashSealed) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("round %d: the child sealed nothing within 60 s:\n%s", round, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(97*round) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != -1 {
			t.Fatalf("round %d: child ended by itself (%v):\n%s", round, err, out.String())
		}
	}

	s = mustOpen(t, url)
	cards, err := s.ListCards(ctx, card.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	sealsTotal := 0
	for _, c := range cards {
		seals, err := s.Seals(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		sealsTotal += len(seals)
		if c.Seq != len(seals) || c.Version != 1+len(seals) {
			t.Errorf("card %s: seq %d, version %d, %d seals", c.ID, c.Seq, c.Version, len(seals))
		}
		if want := c.Seq == 3; (c.Status == card.StatusIssued) != want {
			t.Errorf("card %s: status %s with %d seals", c.ID, c.Status, c.Seq)
		}
		if n := count(t, s, `SELECT count(*) FROM card_pdfs WHERE card_id = $1`, c.ID); n != c.Seq+1 {
			t.Errorf("card %s: %d PDF revisions at seq %d", c.ID, n, c.Seq)
		}
		for i, se := range seals {
			pdf, err := s.PDF(ctx, c.ID, se.Seq)
			if err != nil {
				t.Fatal(err)
			}
			d := sm3.Sum(pdf)
			if se.Seq != i+1 || se.Level != org.Levels[i] || !bytes.Equal(se.PDFDigest, d[:]) ||
				!bytes.HasPrefix(pdf, pdfRev(c.ID, se.Seq)) {
				t.Errorf("card %s: seal %d does not match its PDF revision", c.ID, se.Seq)
			}
		}
	}
	if len(cards) < 2 {
		t.Errorf("only %d cards created: the child did not get to seal", len(cards))
	}
	if bad, err := s.VerifyAudit(ctx); err != nil {
		t.Errorf("VerifyAudit = %d, %v", bad, err)
	}
	if n := count(t, s, `SELECT count(*) FROM audit_events`); n != len(cards)+sealsTotal {
		t.Errorf("%d audit events for %d cards and %d seals", n, len(cards), sealsTotal)
	}
	t.Logf("%d cards, %d seals survived 6 kills", len(cards), sealsTotal)
}
