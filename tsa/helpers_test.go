package tsa_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/jilin-health/cardseal/keys"
)

// counter is an in-process serial source for the package's own tests;
// the shared one (package store) has its own tests on SQLite and
// PostgreSQL.
var _ = time.Second

type counter struct {
	mu  sync.Mutex
	n   int64
	ref func() time.Time
}

func (c *counter) NextTimestampSerial(context.Context) (int64, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n, c.ref(), nil
}

var t0 = time.Date(2026, 11, 28, 9, 30, 15, 0, time.UTC)

// testCA returns a root CA and a TSA identity under it.
func testCA(t testing.TB) (*keys.CA, *keys.Identity) {
	t.Helper()
	rk, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := keys.NewRoot(rk, "吉林省", "吉林省卫生健康委员会(测试)", t0.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tk, err := keys.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueTSA(tk.Public(), "吉林省生育服务卡平台时间戳服务(测试)", t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return ca, &keys.Identity{Signer: tk, Cert: cert, Chain: []*smx509.Certificate{ca.Cert}}
}
