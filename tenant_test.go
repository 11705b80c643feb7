package inmem_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

// tenantNamespaces differ in every field, with strings that would collide
// under a naive encoding (plain concatenation, a 0x00 separator, length
// prefixes with 0x00/0xff content, ...).
var tenantNamespaces = []inmem.Namespace{
	{},
	{Tenant: "a"},
	{Tenant: "a\x00"},
	{Tenant: "ab"},
	{Tenant: "a", App: "b"},
	{Tenant: "a\x00b"},
	{Tenant: "a\x00\x01b"},
	{Tenant: "a", App: "\x00\x01b"},
	{Tenant: "a", App: "b", Agent: "\x00\x01"},
	{Tenant: "a\x00\x01", App: "b"},
	{Tenant: "a", Agent: "b"},
	{App: "a"},
	{Agent: "a"},
	{Tenant: "a\x00\U0010ffff", App: "\U0010ffff"},
	{Tenant: "a", App: "\x00\U0010ffff\U0010ffff"},
	{Tenant: "\U0010ffff", App: "\x00", Agent: "\U0010ffff\x00"},
	{Tenant: "\U0010ffff\x00", App: "", Agent: "\U0010ffff"},
	{Tenant: "", App: "", Agent: "\x00"},
	{Tenant: "", App: "\x00", Agent: ""},
	{Tenant: "\x00", App: "", Agent: ""},
	{Tenant: "acme", App: "support", Agent: "triage"},
	{Tenant: "acme", App: "support", Agent: "triage\x00"},
	{Tenant: "acme", App: "supporttriage"},
}

// tenantKeys are user keys that are prefixes of one another and contain
// 0x00 and 0xff bytes.
var tenantKeys = []string{
	"a", "a\x00", "a\x00b", "ab", "a\xff", "b", "\x00", "\x00\x00", "\xff", "\xff\xff",
	"x/1", "x/10", "x/2", "x/", "x", "k\x01", "acct/1", "acct/10",
}

var tenantPrefixes = []string{"", "a", "a\x00", "x", "x/", "x/1", "\x00", "\xff", "acct/", "zz", "b"}

type tenantVal struct {
	val     string
	expires time.Time // zero: no TTL
}

type tenantScope struct {
	name  string
	ns    inmem.Namespace
	run   *inmem.Run // nil for the shared scope
	model map[string]tenantVal
}

// handle returns a fresh handle to the scope, as a caller would get it.
func (s *tenantScope) handle(t *testing.T, db *inmem.DB) *inmem.Run {
	t.Helper()
	if s.run == nil {
		return db.Shared(s.ns)
	}
	r, err := db.Run(s.run.ID())
	require.NoError(t, err)
	return r
}

func (s *tenantScope) live(now time.Time) map[string]string {
	out := make(map[string]string)
	for k, v := range s.model {
		if v.expires.IsZero() || now.Before(v.expires) {
			out[k] = v.val
		}
	}
	return out
}

func TestTenantIsolationRandomized(t *testing.T) {
	clk := newManualClock()
	db := memDB(t, inmem.WithClock(clk.Now))

	var scopes []*tenantScope
	for i, ns := range tenantNamespaces {
		scopes = append(scopes, &tenantScope{name: fmt.Sprintf("ns%d/shared", i), ns: ns, model: map[string]tenantVal{}})
		for j := range 2 {
			r := freshRun(t, db, inmem.InNamespace(ns))
			require.Equal(t, ns, r.Namespace())
			scopes = append(scopes, &tenantScope{name: fmt.Sprintf("ns%d/run%d", i, j), ns: ns, run: r, model: map[string]tenantVal{}})
		}
	}

	rng := rand.New(rand.NewPCG(20250101, 7))
	const ops = 6000
	for op := range ops {
		s := scopes[rng.IntN(len(scopes))]
		h := s.handle(t, db)
		key := tenantKeys[rng.IntN(len(tenantKeys))]
		// The value names the scope and op, so a leak is recognisable.
		val := fmt.Sprintf("%s#%d", s.name, op)
		switch p := rng.IntN(100); {
		case p < 55:
			require.NoError(t, h.KV().Put(key, []byte(val)))
			s.model[key] = tenantVal{val: val}
		case p < 75:
			require.NoError(t, h.KV().Delete(key))
			delete(s.model, key)
		case p < 90:
			ttl := time.Duration(rng.IntN(20)+1) * time.Second
			require.NoError(t, h.KV().PutTTL(key, []byte(val), ttl))
			s.model[key] = tenantVal{val: val, expires: clk.Now().Add(ttl)}
		default:
			// A multi-key transaction in the scope.
			k2 := tenantKeys[rng.IntN(len(tenantKeys))]
			require.NoError(t, h.Update(func(tx *inmem.Tx) error {
				if err := tx.KV().Put(key, []byte(val)); err != nil {
					return err
				}
				return tx.KV().Delete(k2)
			}))
			s.model[key] = tenantVal{val: val}
			delete(s.model, k2)
		}
		if op%500 == 499 {
			clk.Advance(time.Duration(rng.IntN(5)) * time.Second)
		}
	}

	check := func() {
		t.Helper()
		now := clk.Now()
		for _, s := range scopes {
			want := s.live(now)
			h := s.handle(t, db)
			for _, key := range tenantKeys {
				v, err := h.KV().Get(key)
				if w, ok := want[key]; ok {
					require.NoError(t, err, "%s Get(%q)", s.name, key)
					require.Equal(t, w, string(v), "%s Get(%q)", s.name, key)
				} else {
					require.ErrorIs(t, err, inmem.ErrNotFound, "%s Get(%q) = %q", s.name, key, v)
				}
			}
			for _, prefix := range tenantPrefixes {
				var wantKeys []string
				for k := range want {
					if strings.HasPrefix(k, prefix) {
						wantKeys = append(wantKeys, k)
					}
				}
				slices.Sort(wantKeys)
				var wantEntries []string
				for _, k := range wantKeys {
					wantEntries = append(wantEntries, k+"="+want[k])
				}

				es, err := h.KV().List(prefix)
				require.NoError(t, err)
				var got []string
				for _, e := range es {
					got = append(got, e.Key+"="+string(e.Value))
				}
				require.Equal(t, wantEntries, got, "%s List(%q)", s.name, prefix)

				got = nil
				require.NoError(t, h.KV().Scan(prefix, func(k string, v []byte) bool {
					got = append(got, k+"="+string(v))
					return true
				}))
				require.Equal(t, wantEntries, got, "%s Scan(%q)", s.name, prefix)
			}
			// The same through transactions.
			require.NoError(t, h.View(func(tx *inmem.Tx) error {
				es, err := tx.KV().List("")
				require.NoError(t, err)
				require.Len(t, es, len(want), "%s View List", s.name)
				for _, e := range es {
					require.Equal(t, want[e.Key], string(e.Value), "%s View List %q", s.name, e.Key)
				}
				for _, key := range tenantKeys {
					_, err := tx.KV().Get(key)
					_, ok := want[key]
					require.Equal(t, ok, err == nil, "%s View Get(%q): %v", s.name, key, err)
				}
				return nil
			}))
			require.NoError(t, h.Update(func(tx *inmem.Tx) error {
				es, err := tx.KV().List("")
				require.NoError(t, err)
				require.Len(t, es, len(want), "%s Update List", s.name)
				return nil
			}))
		}
	}
	check()
	clk.Advance(10 * time.Second) // expire some TTL keys
	check()
	clk.Advance(time.Minute) // expire all of them
	check()

	// Every scope ended up with data, or the test proved little.
	for _, s := range scopes {
		require.NotEmpty(t, s.live(clk.Now()), "%s has no data", s.name)
	}
}

// TestTenantSharedScopes spells out the visibility rules.
func TestTenantSharedScopes(t *testing.T) {
	db := memDB(t)
	nsA := inmem.Namespace{Tenant: "a"}
	nsB := inmem.Namespace{Tenant: "a\x00"}
	nsC := inmem.Namespace{Tenant: "a", App: "b"}

	shA, shB, shC := db.Shared(nsA), db.Shared(nsB), db.Shared(nsC)
	require.True(t, shA.ID().IsZero())
	require.Equal(t, nsA, shA.Namespace())
	require.NoError(t, shA.KV().Put("mem", []byte("A")))
	require.NoError(t, shB.KV().Put("mem", []byte("B")))

	// Same namespace, new handle: same data.
	v, err := db.Shared(inmem.Namespace{Tenant: "a"}).KV().Get("mem")
	require.NoError(t, err)
	require.Equal(t, "A", string(v))
	v, err = shB.KV().Get("mem")
	require.NoError(t, err)
	require.Equal(t, "B", string(v))
	_, err = shC.KV().Get("mem")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	es, err := shC.KV().List("")
	require.NoError(t, err)
	require.Empty(t, es)
	_, err = db.Shared(inmem.Namespace{}).KV().Get("mem")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	// A run of nsA does not see the shared data through its own KV.
	rA := freshRun(t, db, inmem.InNamespace(nsA))
	_, err = rA.KV().Get("mem")
	require.ErrorIs(t, err, inmem.ErrNotFound)
	es, err = rA.KV().List("")
	require.NoError(t, err)
	require.Empty(t, es)
	require.NoError(t, rA.KV().Put("mem", []byte("run")))
	v, err = shA.KV().Get("mem")
	require.NoError(t, err)
	require.Equal(t, "A", string(v), "a run's write must not land in the shared scope")
	// ... but reaches it through db.Shared(its namespace).
	v, err = db.Shared(rA.Namespace()).KV().Get("mem")
	require.NoError(t, err)
	require.Equal(t, "A", string(v))

	// Runs of the same namespace do not see each other's data.
	rA2 := freshRun(t, db, inmem.InNamespace(nsA))
	_, err = rA2.KV().Get("mem")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	// The default namespace's shared scope does not show run records or
	// any other internal data.
	def := db.Shared(inmem.Namespace{})
	es, err = def.KV().List("")
	require.NoError(t, err)
	require.Empty(t, es)
	for range 3 {
		freshRun(t, db)
	}
	es, err = def.KV().List("")
	require.NoError(t, err)
	require.Empty(t, es)
	require.NoError(t, def.KV().Put("k", []byte("v")))
	_, err = freshRun(t, db).KV().Get("k")
	require.ErrorIs(t, err, inmem.ErrNotFound)

	// Transactions are per scope: a transaction on shA writes only there.
	require.NoError(t, shA.Update(func(tx *inmem.Tx) error {
		return tx.KV().Put("tx", []byte("A"))
	}))
	for _, r := range []*inmem.Run{shB, shC, rA, rA2, def} {
		_, err := r.KV().Get("tx")
		require.ErrorIs(t, err, inmem.ErrNotFound)
	}

	// An over-long namespace field: a handle whose every method fails.
	long := strings.Repeat("x", inmem.MaxNameSize+1)
	bad := db.Shared(inmem.Namespace{Agent: long})
	require.ErrorIs(t, bad.KV().Put("k", nil), inmem.ErrTooLarge)
	_, err = bad.KV().Get("k")
	require.ErrorIs(t, err, inmem.ErrTooLarge)
	_, err = bad.KV().List("")
	require.ErrorIs(t, err, inmem.ErrTooLarge)
	_, err = bad.Begin(false)
	require.ErrorIs(t, err, inmem.ErrTooLarge)
	require.ErrorIs(t, bad.Update(func(*inmem.Tx) error { return nil }), inmem.ErrTooLarge)
	_, err = bad.Info()
	require.ErrorIs(t, err, inmem.ErrTooLarge)
	err = bad.End(inmem.Completed, "")
	require.True(t, errors.Is(err, inmem.ErrTooLarge) || errors.Is(err, inmem.ErrInvalidArgument), "got %v", err)
	// A field of exactly the maximum is fine.
	ok := db.Shared(inmem.Namespace{Agent: long[:inmem.MaxNameSize]})
	require.NoError(t, ok.KV().Put("k", []byte("v")))
}
