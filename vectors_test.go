package inmem_test

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

func randVec(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func l2(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// exactTop is brute force: the k keys nearest to q among those ok accepts.
func exactTop(vecs map[string][]float32, q []float32, k int, ok func(string) bool) []string {
	type kd struct {
		k string
		d float64
	}
	var all []kd
	for key, v := range vecs {
		if ok == nil || ok(key) {
			all = append(all, kd{key, l2(v, q)})
		}
	}
	slices.SortFunc(all, func(a, b kd) int { return cmp.Compare(a.d, b.d) })
	var out []string
	for i := 0; i < k && i < len(all); i++ {
		out = append(out, all[i].k)
	}
	return out
}

func keysOf(ms []inmem.Match) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Key
	}
	return out
}

func overlap(a, b []string) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}

func TestVectorsSearchRecallAndFilters(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	vs := run.Vectors()
	require.NoError(t, vs.CreateCollection("docs", inmem.VectorConfig{Dim: 16, Metric: inmem.Euclidean}))
	r := rand.New(rand.NewPCG(1, 2))
	vecs := map[string][]float32{}
	group := map[string]int{}
	for i := 0; i < 2000; i++ {
		k := fmt.Sprintf("doc-%04d", i)
		v := randVec(r, 16)
		vecs[k], group[k] = v, i%10
		require.NoError(t, vs.Upsert("docs", k, v, map[string]any{"group": i % 10, "lang": []string{"en", "de"}[i%2]}))
	}
	hits, total := 0, 0
	for qi := 0; qi < 50; qi++ {
		q := randVec(r, 16)
		got, err := vs.Search("docs", q, 10)
		require.NoError(t, err)
		require.Len(t, got, 10)
		require.True(t, slices.IsSortedFunc(got, func(a, b inmem.Match) int { return cmp.Compare(b.Score, a.Score) }), "best first")
		hits += overlap(keysOf(got), exactTop(vecs, q, 10, nil))
		total += 10
	}
	require.GreaterOrEqual(t, float64(hits)/float64(total), 0.95, "recall@10")

	filters := []struct {
		f  inmem.Filter
		ok func(string) bool
	}{
		{inmem.Eq("group", 3), func(k string) bool { return group[k] == 3 }},
		{inmem.In("group", 1, 2), func(k string) bool { return group[k] == 1 || group[k] == 2 }},
		{inmem.Gt("group", 7), func(k string) bool { return group[k] > 7 }},
		{inmem.And(inmem.Gte("group", 2), inmem.Lt("group", 4), inmem.Eq("lang", "en")), func(k string) bool { g := group[k]; return g >= 2 && g < 4 && g%2 == 0 }},
		{inmem.Or(inmem.Eq("group", 0), inmem.Lte("group", 0.5)), func(k string) bool { return group[k] == 0 }},
		{inmem.Not(inmem.Eq("lang", "en")), func(k string) bool { return group[k]%2 == 1 }},
	}
	for i, fc := range filters {
		hits, total := 0, 0
		for qi := 0; qi < 20; qi++ {
			q := randVec(r, 16)
			got, err := vs.Search("docs", q, 10, inmem.Where(fc.f), inmem.Ef(128))
			require.NoError(t, err)
			for _, m := range got {
				require.True(t, fc.ok(m.Key), "filter %d returned %s (meta %v)", i, m.Key, m.Meta)
			}
			want := exactTop(vecs, q, 10, fc.ok)
			hits += overlap(keysOf(got), want)
			total += len(want)
		}
		require.GreaterOrEqual(t, float64(hits)/float64(total), 0.95, "filtered recall, filter %d", i)
	}

	// Deleted and replaced vectors are never returned in their old form.
	for i := 0; i < 2000; i += 3 {
		require.NoError(t, vs.Delete("docs", fmt.Sprintf("doc-%04d", i)))
	}
	far := make([]float32, 16)
	for i := range far {
		far[i] = 100
	}
	require.NoError(t, vs.Upsert("docs", "doc-0001", far, map[string]any{"group": 42}))
	for qi := 0; qi < 20; qi++ {
		got, err := vs.Search("docs", randVec(r, 16), 20)
		require.NoError(t, err)
		for _, m := range got {
			var n int
			fmt.Sscanf(m.Key, "doc-%d", &n)
			require.NotZero(t, n%3, "deleted %s returned", m.Key)
			require.NotEqual(t, "doc-0001", m.Key, "a replaced vector was found at its old place")
		}
	}
	got, err := vs.Search("docs", far, 1)
	require.NoError(t, err)
	require.Equal(t, "doc-0001", got[0].Key)
	require.EqualValues(t, 42, got[0].Meta["group"])
	rec, err := vs.Get("docs", "doc-0001")
	require.NoError(t, err)
	require.Equal(t, far, rec.Vector)
	_, err = vs.Get("docs", "doc-0000")
	require.ErrorIs(t, err, inmem.ErrNotFound)
}

func TestVectorsBadInput(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	vs := run.Vectors()
	require.ErrorIs(t, vs.CreateCollection("", inmem.VectorConfig{Dim: 3, Metric: inmem.Cosine}), inmem.ErrInvalidArgument)
	require.ErrorIs(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 0, Metric: inmem.Cosine}), inmem.ErrInvalidArgument)
	require.ErrorIs(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 3}), inmem.ErrInvalidArgument)
	require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 3, Metric: inmem.Cosine}))
	require.ErrorIs(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 3, Metric: inmem.Cosine}), inmem.ErrExists)
	nan := float32(math.NaN())
	for _, v := range [][]float32{{1, 2}, {1, nan, 0}, {0, 0, 0}, {float32(math.Inf(1)), 0, 0}} {
		require.ErrorIs(t, vs.Upsert("c", "k", v, nil), inmem.ErrInvalidArgument, "%v", v)
	}
	require.ErrorIs(t, vs.Upsert("nope", "k", []float32{1, 0, 0}, nil), inmem.ErrNotFound)
	require.ErrorIs(t, vs.Upsert("c", "", []float32{1, 0, 0}, nil), inmem.ErrInvalidArgument)
	require.ErrorIs(t, vs.Upsert("c", "k", []float32{1, 0, 0}, map[string]any{"f": func() {}}), inmem.ErrInvalidArgument)
	_, err = vs.Search("c", []float32{1, 0, 0}, 0)
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = vs.Search("c", []float32{1, 0}, 1)
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = vs.Search("nope", []float32{1, 0, 0}, 1)
	require.ErrorIs(t, err, inmem.ErrNotFound)
	_, err = vs.Search("c", []float32{1, 0, 0}, 1, inmem.Where(inmem.Filter{}))
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	_, err = vs.Search("c", []float32{1, 0, 0}, 1, inmem.Where(inmem.Eq("x", []int{1})))
	require.ErrorIs(t, err, inmem.ErrInvalidArgument)
	got, err := vs.Search("c", []float32{1, 0, 0}, 5)
	require.NoError(t, err)
	require.Empty(t, got, "nothing was stored by the refused writes")
}

func TestVectorsTransactionsAndSnapshots(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	vs := run.Vectors()
	require.NoError(t, vs.CreateCollection("m", inmem.VectorConfig{Dim: 2, Metric: inmem.Euclidean}))
	require.NoError(t, vs.Upsert("m", "a", []float32{0, 0}, nil))

	// An aborted transaction's upsert is never searchable.
	boom := errors.New("abort")
	err = run.Update(func(tx *inmem.Tx) error {
		if err := tx.Vectors().Upsert("m", "b", []float32{1, 1}, nil); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	got, err := vs.Search("m", []float32{1, 1}, 5)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, keysOf(got))

	// A read transaction keeps its snapshot: a later upsert is invisible to it.
	view, err := run.Begin(false)
	require.NoError(t, err)
	defer view.Discard()
	require.NoError(t, vs.Upsert("m", "c", []float32{1, 1}, nil))
	require.NoError(t, vs.Delete("m", "a"))
	got, err = view.Vectors().Search("m", []float32{1, 1}, 5)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, keysOf(got), "the snapshot predates c and a's delete")
	got, err = vs.Search("m", []float32{1, 1}, 5)
	require.NoError(t, err)
	require.Equal(t, []string{"c"}, keysOf(got))

	// Scopes do not share collections.
	other := db.Shared(inmem.Namespace{Tenant: "other"}).Vectors()
	_, err = other.Search("m", []float32{1, 1}, 1)
	require.ErrorIs(t, err, inmem.ErrNotFound)
}

func TestVectorsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	db, err := inmem.Open(dir)
	require.NoError(t, err)
	mem := db.Shared(inmem.Namespace{Tenant: "t"}).Vectors()
	require.NoError(t, mem.CreateCollection("kb", inmem.VectorConfig{Dim: 8, Metric: inmem.Cosine}))
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 300; i++ {
		require.NoError(t, mem.Upsert("kb", fmt.Sprint("k", i), randVec(r, 8), map[string]any{"i": i}))
	}
	require.NoError(t, mem.Delete("kb", "k7"))
	q := randVec(r, 8)
	before, err := mem.Search("kb", q, 10, inmem.Ef(300))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db, err = inmem.Open(dir)
	require.NoError(t, err)
	defer db.Close()
	mem = db.Shared(inmem.Namespace{Tenant: "t"}).Vectors()
	after, err := mem.Search("kb", q, 10, inmem.Ef(300))
	require.NoError(t, err)
	require.Equal(t, keysOf(before), keysOf(after))
	for i := range before {
		require.InDelta(t, before[i].Score, after[i].Score, 1e-6)
	}
	_, err = mem.Get("kb", "k7")
	require.ErrorIs(t, err, inmem.ErrNotFound)
}

// TestVectorsConcurrent: upserts, deletes and searches from several
// goroutines (run with -race); at the end the index agrees with the store.
func TestVectorsConcurrent(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	run, err := db.BeginRun()
	require.NoError(t, err)
	vs := run.Vectors()
	require.NoError(t, vs.CreateCollection("c", inmem.VectorConfig{Dim: 8, Metric: inmem.Dot}))
	done := make(chan error, 6)
	for w := 0; w < 4; w++ {
		go func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < 150; i++ {
				k := fmt.Sprint("k", r.IntN(60))
				var err error
				if r.IntN(4) == 0 {
					err = vs.Delete("c", k)
				} else {
					err = vs.Upsert("c", k, randVec(r, 8), map[string]any{"w": w})
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for s := 0; s < 2; s++ {
		go func() {
			r := rand.New(rand.NewPCG(uint64(s), 10))
			for i := 0; i < 100; i++ {
				if _, err := vs.Search("c", randVec(r, 8), 5, inmem.Where(inmem.Lt("w", 3))); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for i := 0; i < 6; i++ {
		require.NoError(t, <-done)
	}
	// Every stored key is findable, and nothing else is.
	stored := map[string]bool{}
	for i := 0; i < 60; i++ {
		if _, err := vs.Get("c", fmt.Sprint("k", i)); err == nil {
			stored[fmt.Sprint("k", i)] = true
		}
	}
	got, err := vs.Search("c", randVec(rand.New(rand.NewPCG(1, 1)), 8), 100, inmem.Ef(200))
	require.NoError(t, err)
	found := map[string]bool{}
	for _, m := range got {
		found[m.Key] = true
	}
	require.Equal(t, stored, found)
	require.Len(t, got, len(stored), "a key must not be found twice")
}

// TestVectorsSameKeyTwiceInOneTransaction: the last write of a key in a
// transaction is what the graph holds, as it is what the store holds.
func TestVectorsSameKeyTwiceInOneTransaction(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	mem := db.Shared(inmem.Namespace{})
	vs := mem.Vectors()
	require.NoError(t, vs.CreateCollection("m", inmem.VectorConfig{Dim: 2, Metric: inmem.Euclidean}))
	require.NoError(t, vs.Upsert("m", "b", []float32{5, 5}, nil))
	_, err = vs.Search("m", []float32{0, 0}, 1) // the graph exists before the writes
	require.NoError(t, err)
	require.NoError(t, mem.Update(func(tx *inmem.Tx) error {
		if err := tx.Vectors().Upsert("m", "a", []float32{0, 0}, nil); err != nil {
			return err
		}
		if err := tx.Vectors().Upsert("m", "a", []float32{10, 10}, nil); err != nil {
			return err
		}
		if err := tx.Vectors().Upsert("m", "b", []float32{1, 1}, nil); err != nil {
			return err
		}
		return tx.Vectors().Delete("m", "b")
	}))
	got, err := vs.Search("m", []float32{10, 10}, 5)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, keysOf(got))
	require.InDelta(t, 0, got[0].Score, 1e-6)
}

// Each collection keeps its own config, however many there are and
// however often they are read (decoded configs are cached by their bytes).
func TestVectorsManyCollectionConfigs(t *testing.T) {
	db, err := inmem.OpenInMemory()
	require.NoError(t, err)
	defer db.Close()
	vs := db.Shared(inmem.Namespace{Tenant: "t"}).Vectors()
	const n = 300 // more than the cache holds
	for d := 1; d <= n; d++ {
		require.NoError(t, vs.CreateCollection(fmt.Sprint("c", d), inmem.VectorConfig{Dim: d, Metric: inmem.Euclidean}))
	}
	for round := 0; round < 2; round++ {
		for d := 1; d <= n; d++ {
			c := fmt.Sprint("c", d)
			v := make([]float32, d)
			v[0] = 1
			require.NoError(t, vs.Upsert(c, "k", v, nil))
			require.ErrorIs(t, vs.Upsert(c, "k", make([]float32, d+1), nil), inmem.ErrInvalidArgument)
			got, err := vs.Search(c, v, 1)
			require.NoError(t, err)
			require.Len(t, got, 1)
		}
	}
}
