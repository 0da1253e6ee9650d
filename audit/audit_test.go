package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/audit"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/store"
	"github.com/jilin-health/cardseal/store/storetest"
)

var ctx = context.Background()

// pki returns a platform identity and the trust list of its root, and a
// forger's platform identity under a look-alike root with the same names.
func pki(t testing.TB) (platform, forger *keys.Identity, trust *keys.TrustList) {
	t.Helper()
	mk := func() (*keys.Identity, *keys.CA) {
		now := time.Now().Add(-time.Hour)
		rk, err := keys.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		ca, err := keys.NewRoot(rk, "吉林省", "吉林省卫生健康委员会(测试)", now)
		if err != nil {
			t.Fatal(err)
		}
		pk, err := keys.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		cert, err := ca.IssuePlatform(pk.Public(), "吉林省生育服务卡平台", now)
		if err != nil {
			t.Fatal(err)
		}
		return &keys.Identity{Signer: pk, Cert: cert, Chain: []*smx509.Certificate{ca.Cert}}, ca
	}
	platform, ca := mk()
	forger, _ = mk()
	return platform, forger, keys.NewTrustList(ca.Cert)
}

// rawDB opens a second connection to the store's database, behind its
// back, as an attacker with database access would.
func rawDB(t testing.TB, url string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if path, ok := strings.CutPrefix(url, "sqlite://"); ok {
		db, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(15000)")
	} else {
		db, err = sql.Open("pgx", url)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func exec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("raw %q: %v", q, err)
	}
}

func appendEvents(t testing.TB, st *store.DB, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := st.AppendAudit(ctx, audit.Event{Actor: "220102", OrgCode: "220102", Action: "card.read",
			Reason: fmt.Sprintf("review %d", i), Detail: []byte(`{"fields":["id_number"]}`), RemoteAddr: "192.0.2.7"}); err != nil {
			t.Fatal(err)
		}
	}
}

func sign(t testing.TB, st *store.DB, id *keys.Identity) audit.Checkpoint {
	t.Helper()
	cp, err := audit.Sign(ctx, st, id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func events(t testing.TB, st *store.DB) []audit.Event {
	t.Helper()
	var out []audit.Event
	if _, _, err := st.AuditChain(ctx, func(ev audit.Event) error { out = append(out, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// rehash edits event from with edit, then recomputes the hash of it and
// of every later event with the store's own algorithm and moves the
// chain head: a rewrite the hash chain alone cannot detect.
func rehash(t testing.TB, st *store.DB, db *sql.DB, from int64, edit func(*audit.Event)) {
	t.Helper()
	evs := events(t, st)
	prev := []byte{}
	for _, ev := range evs {
		if ev.ID >= from {
			if ev.ID == from {
				edit(&ev)
			}
			ev.PrevHash = prev
			ev.Hash = audit.Hash(prev, &ev)
			exec(t, db, `UPDATE audit_events SET actor = $1, reason = $2, prev_hash = $3, hash = $4 WHERE id = $5`,
				ev.Actor, ev.Reason, ev.PrevHash, ev.Hash, ev.ID)
		}
		prev = ev.Hash
	}
	exec(t, db, `UPDATE audit_head SET last_hash = $1 WHERE id = 1`, prev)
}

func TestVerify(t *testing.T) {
	platform, forger, trust := pki(t)
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		for _, tc := range []struct {
			name   string
			tamper func(t *testing.T, st *store.DB, db *sql.DB)
			want   audit.Problem // Kind, EventID, LastID, audit.Checkpoint of the first problem
			n      int           // problems, 0: any
		}{
			{"edited", func(t *testing.T, st *store.DB, db *sql.DB) {
				exec(t, db, `UPDATE audit_events SET reason = 'nothing to see' WHERE id = 4`)
			}, audit.Problem{Kind: audit.Edited, EventID: 4}, 1},
			{"edited time", func(t *testing.T, st *store.DB, db *sql.DB) {
				exec(t, db, `UPDATE audit_events SET at = (SELECT at FROM audit_events WHERE id = 1) WHERE id = 2`)
			}, audit.Problem{Kind: audit.Edited, EventID: 2}, 1},
			{"edited and re-hashed alone", func(t *testing.T, st *store.DB, db *sql.DB) {
				ev := events(t, st)[1]
				ev.Actor = "someone else"
				exec(t, db, `UPDATE audit_events SET actor = $1, hash = $2 WHERE id = 2`, ev.Actor, audit.Hash(ev.PrevHash, &ev))
			}, audit.Problem{Kind: audit.Edited, EventID: 2}, 1},
			{"deleted", func(t *testing.T, st *store.DB, db *sql.DB) {
				exec(t, db, `DELETE FROM audit_events WHERE id = 2`)
			}, audit.Problem{Kind: audit.Missing, EventID: 2}, 1},
			{"two deleted", func(t *testing.T, st *store.DB, db *sql.DB) {
				exec(t, db, `DELETE FROM audit_events WHERE id IN (4, 5)`)
			}, audit.Problem{Kind: audit.Missing, EventID: 4, LastID: 5}, 1},
			{"reordered", func(t *testing.T, st *store.DB, db *sql.DB) {
				exec(t, db, `UPDATE audit_events SET id = -1 WHERE id = 2`)
				exec(t, db, `UPDATE audit_events SET id = 2 WHERE id = 3`)
				exec(t, db, `UPDATE audit_events SET id = 3 WHERE id = -1`)
			}, audit.Problem{Kind: audit.Reordered, EventID: 2}, 2},
			{"deleted newest", func(t *testing.T, st *store.DB, db *sql.DB) {
				exec(t, db, `DELETE FROM audit_events WHERE id = 6`)
			}, audit.Problem{Kind: audit.Missing, EventID: 6}, 2}, // the head and checkpoint 2 both show it
			{"truncated", func(t *testing.T, st *store.DB, db *sql.DB) {
				// The attacker also moves the head back: only the
				// checkpoint remembers events 5 and 6.
				exec(t, db, `DELETE FROM audit_events WHERE id > 4`)
				exec(t, db, `UPDATE audit_head SET last_id = 4, last_hash = (SELECT hash FROM audit_events WHERE id = 4) WHERE id = 1`)
			}, audit.Problem{Kind: audit.Truncated, EventID: 5, LastID: 6, Checkpoint: 2}, 1},
			{"truncated and refilled", func(t *testing.T, st *store.DB, db *sql.DB) {
				exec(t, db, `DELETE FROM audit_events WHERE id > 4`)
				exec(t, db, `UPDATE audit_head SET last_id = 4, last_hash = (SELECT hash FROM audit_events WHERE id = 4) WHERE id = 1`)
				appendEvents(t, st, 2) // new events 5 and 6
			}, audit.Problem{Kind: audit.Rewritten, EventID: 4, LastID: 6, Checkpoint: 2}, 1},
			{"re-hashed after the first checkpoint", func(t *testing.T, st *store.DB, db *sql.DB) {
				rehash(t, st, db, 5, func(ev *audit.Event) { ev.Reason = "nothing to see" })
			}, audit.Problem{Kind: audit.Rewritten, EventID: 4, LastID: 6, Checkpoint: 2}, 1},
			{"re-hashed from the start", func(t *testing.T, st *store.DB, db *sql.DB) {
				rehash(t, st, db, 2, func(ev *audit.Event) { ev.Actor = "someone else" })
			}, audit.Problem{Kind: audit.Rewritten, EventID: 1, LastID: 3, Checkpoint: 1}, 1},
			{"forged checkpoint", func(t *testing.T, st *store.DB, db *sql.DB) {
				// Rewrite the chain, then make checkpoint 2 agree by
				// replacing its hash: the signature no longer matches.
				rehash(t, st, db, 5, func(ev *audit.Event) { ev.Reason = "nothing to see" })
				evs := events(t, st)
				exec(t, db, `UPDATE audit_checkpoints SET hash = $1 WHERE id = 2`, evs[5].Hash)
			}, audit.Problem{Kind: audit.BadCheckpoint, EventID: 6, Checkpoint: 2}, 1},
			{"checkpoint signed by an untrusted key", func(t *testing.T, st *store.DB, db *sql.DB) {
				// The forger's own platform key under a look-alike root
				// signs a rewritten chain.
				rehash(t, st, db, 2, func(ev *audit.Event) { ev.Actor = "someone else" })
				exec(t, db, `DELETE FROM audit_checkpoints`)
				sign(t, st, forger)
			}, audit.Problem{Kind: audit.BadCheckpoint, EventID: 6, Checkpoint: -1}, 1}, // SQLite reuses ID 1
		} {
			t.Run(tc.name, func(t *testing.T) {
				st, url := open(t)
				db := rawDB(t, url)
				appendEvents(t, st, 3)
				sign(t, st, platform)
				appendEvents(t, st, 3)
				sign(t, st, platform)
				rep, err := audit.Verify(ctx, st, trust)
				if err != nil || !rep.Intact() || rep.Events != 6 || rep.Checkpoints != 2 || rep.LastSignedID != 6 || rep.Unsigned != 0 {
					t.Fatalf("before tampering: %+v, %v", rep, err)
				}

				tc.tamper(t, st, db)
				rep, err = audit.Verify(ctx, st, trust)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Intact() {
					t.Fatalf("tampering not detected: %+v", rep)
				}
				t.Logf("problems:\n%s", problems(rep))
				got := rep.Problems[0]
				got.Reason = ""
				if tc.want.Checkpoint < 0 {
					got.Checkpoint = -1
				}
				if got != tc.want || (tc.n > 0 && len(rep.Problems) != tc.n) {
					t.Errorf("first problem %s of %d, want %s of %d; all:\n%s", brief(got), len(rep.Problems), brief(tc.want), tc.n, problems(rep))
				}
			})
		}

		t.Run("intact and growing", func(t *testing.T) {
			st, _ := open(t)
			rep, err := audit.Verify(ctx, st, trust)
			if err != nil || !rep.Intact() || rep.Events != 0 || rep.Checkpoints != 0 || !rep.LastSignedAt.IsZero() {
				t.Fatalf("empty log: %+v, %v", rep, err)
			}
			appendEvents(t, st, 2)
			cp := sign(t, st, platform)
			appendEvents(t, st, 3)
			rep, err = audit.Verify(ctx, st, trust)
			if err != nil || !rep.Intact() || rep.Events != 5 || rep.Checkpoints != 1 || rep.LastSignedID != 2 ||
				rep.Unsigned != 3 || !rep.LastSignedAt.Equal(cp.SignedAt) {
				t.Fatalf("%+v, %v", rep, err)
			}
			// Another root's trust list does not accept the checkpoint.
			_, _, other := pki(t)
			rep, err = audit.Verify(ctx, st, other)
			if err != nil || rep.Intact() || rep.Problems[0].Kind != audit.BadCheckpoint || rep.Checkpoints != 0 {
				t.Fatalf("other trust list: %+v, %v", rep, err)
			}
		})
	})
}

func brief(p audit.Problem) string {
	return fmt.Sprintf("{%s %d..%d checkpoint %d}", p.Kind, p.EventID, p.LastID, p.Checkpoint)
}

// racingLog lets the service append and sign right after each of
// Verify's reads.
type racingLog struct {
	*store.DB
	after func()
}

func (l racingLog) AuditCheckpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	defer l.after()
	return l.DB.AuditCheckpoints(ctx)
}

func (l racingLog) AuditChain(ctx context.Context, fn func(audit.Event) error) (int64, []byte, error) {
	defer l.after()
	return l.DB.AuditChain(ctx, fn)
}

// Checkpoints are read before the events, so a checkpoint signed between
// the reads never names an event the read missed.
func TestVerifyReadOrder(t *testing.T) {
	platform, _, trust := pki(t)
	st, _ := storetest.OpenSQLite(t)
	appendEvents(t, st, 2)
	sign(t, st, platform)
	lg := racingLog{st, func() { appendEvents(t, st, 1); sign(t, st, platform) }}
	for i := range 3 {
		rep, err := audit.Verify(ctx, lg, trust)
		if err != nil || !rep.Intact() {
			t.Fatalf("verify %d with the service racing it: %v\n%s", i, err, problems(rep))
		}
	}
}

// Verify while the service appends and signs. The verifier runs until the
// writer has signed several checkpoints and it has itself run several
// times during the writes: counted, not timed, so a loaded machine only
// makes it slower.
func TestVerifyConcurrent(t *testing.T) {
	platform, _, trust := pki(t)
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		st, _ := open(t)
		appendEvents(t, st, 1)
		done := make(chan struct{})
		errc := make(chan error, 1)
		var signed atomic.Int64
		go func() {
			defer close(errc)
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := st.AppendAudit(ctx, audit.Event{Actor: "admin", Action: "user.login"}); err != nil {
					errc <- err
					return
				}
				if _, err := audit.Sign(ctx, st, platform, time.Now()); err != nil {
					errc <- err
					return
				}
				signed.Add(1)
			}
		}()
		runs := 0
		for runs < 5 || signed.Load() < 3 {
			rep, err := audit.Verify(ctx, st, trust)
			if err != nil || !rep.Intact() {
				close(done)
				t.Fatalf("verify %d during appends: %v\n%s", runs, err, problems(rep))
			}
			runs++
			select {
			case err := <-errc: // the writer failed: stop waiting for it
				close(done)
				t.Fatal(err)
			default:
			}
		}
		close(done)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if rep, err := audit.Verify(ctx, st, trust); err != nil || !rep.Intact() || rep.Checkpoints < 2 {
			t.Fatalf("after: %+v, %v", rep, err)
		}
	})
}

func problems(r *audit.Report) string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  %s %s\n", p.Kind, p)
	}
	return b.String()
}

// A store that cannot be read is an error, not a verdict.
func TestVerifyCannotCheck(t *testing.T) {
	_, _, trust := pki(t)
	st, _ := storetest.OpenSQLite(t)
	_ = st.Close()
	if rep, err := audit.Verify(ctx, st, trust); err == nil {
		t.Fatalf("closed store: %+v", rep)
	}
}

func TestRunAuditSigner(t *testing.T) {
	platform, _, trust := pki(t)
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		st, _ := open(t)
		log := slog.New(slog.DiscardHandler)
		run := func(every time.Duration) (stop func()) {
			c, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { audit.RunAuditSigner(c, st, platform, every, time.Now, log); close(done) }()
			return func() { cancel(); <-done }
		}
		checkpoints := func() []audit.Checkpoint {
			cps, err := st.AuditCheckpoints(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return cps
		}

		// Nothing to sign: no checkpoint, even at shutdown.
		run(time.Hour)()
		if n := len(checkpoints()); n != 0 {
			t.Fatalf("%d checkpoints of an empty log", n)
		}
		// Shutdown signs what the ticks did not.
		appendEvents(t, st, 2)
		run(time.Hour)()
		if cps := checkpoints(); len(cps) != 1 || cps[0].UpToID != 2 {
			t.Fatalf("after shutdown: %+v", cps)
		}
		// Ticks sign new events, and only new events.
		stop := run(10 * time.Millisecond)
		appendEvents(t, st, 1)
		deadline := time.Now().Add(10 * time.Second)
		for len(checkpoints()) < 2 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // ten more ticks without events
		stop()
		if cps := checkpoints(); len(cps) != 2 || cps[1].UpToID != 3 {
			t.Fatalf("after ticks: %+v", cps)
		}
		rep, err := audit.Verify(ctx, st, trust)
		if err != nil || !rep.Intact() || rep.Checkpoints != 2 {
			t.Fatalf("%+v, %v", rep, err)
		}
	})
}
