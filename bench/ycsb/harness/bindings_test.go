package harness_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/inmem-db/inmem/bench/ycsb/harness"
	"github.com/inmem-db/inmem/bench/ycsb/ycsbdb"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
	"github.com/stretchr/testify/require"
)

const (
	testRecords = 2000
	testOps     = 2000
	table       = "usertable"
)

// TestBindings loads every binding, runs every workload on it through a
// model that checks each read and scan against what was written, then
// checks Read, Update, Scan and Delete directly.
func TestBindings(t *testing.T) {
	ctx := context.Background()
	for _, d := range ycsbdb.Databases {
		t.Run(d.Name, func(t *testing.T) {
			db, err := d.Open(t.TempDir())
			require.NoError(t, err)
			defer func() { require.NoError(t, db.Close()) }()
			m := newModel(t, db)

			lr, err := harness.Load(ctx, m, testRecords, 2)
			require.NoError(t, err)
			require.EqualValues(t, testRecords, lr.Ops)
			require.Len(t, m.keys, testRecords)
			rng := rand.New(rand.NewPCG(1, 2))
			m.checkReads(ctx, rng, 50)

			records := int64(testRecords)
			for _, w := range harness.Workloads {
				for _, o := range []harness.Options{
					{Ops: testOps, Threads: 2, Distribution: "zipfian"},
					{Ops: testOps, Threads: 1, Distribution: "uniform"},
				} {
					o.Records = records
					r, err := harness.Run(ctx, m, w, o)
					require.NoError(t, err, "workload %s, %s", w.Name, o.Distribution)
					require.EqualValues(t, testOps, r.Ops)
					require.Zero(t, r.Errors)
					records += r.Inserted
					require.Len(t, m.keys, int(records), "workload %s: every insert adds a record", w.Name)
					m.checkReads(ctx, rng, 20)
				}
			}
			require.Positive(t, m.reads.Load())
			require.Positive(t, m.scans.Load())

			checkDirect(ctx, t, m, rng)
			checkConcurrentUpdates(ctx, t, db)
		})
	}
}

// checkDirect calls the binding itself with cases a workload seldom makes.
func checkDirect(ctx context.Context, t *testing.T, m *model, rng *rand.Rand) {
	i := rng.IntN(len(m.keys) - 20)
	k := m.keys[i]
	want := m.recs[k]

	// A subset of the fields, and a field the record lacks.
	got, err := m.db.Read(ctx, table, k, []string{"field3", "field7", "nosuchfield"})
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"field3": want["field3"], "field7": want["field7"]}, got)

	// Update changes what Read returns, and only that field; a new field
	// is added.
	require.NoError(t, m.Update(ctx, table, k, map[string][]byte{"field2": []byte("changed"), "extra": []byte("new field")}))
	got, err = m.db.Read(ctx, table, k, nil)
	require.NoError(t, err)
	require.Equal(t, []byte("changed"), got["field2"])
	require.Equal(t, []byte("new field"), got["extra"])
	require.Len(t, got, 11)
	require.Equal(t, m.recs[k], got)

	// Scans: from a key, from between two keys, of one record, past the
	// end, and from beyond every key.
	scan := func(start string, count int, wantKeys []string) {
		t.Helper()
		recs, err := m.db.Scan(ctx, table, start, count, nil)
		require.NoError(t, err)
		require.Len(t, recs, len(wantKeys), "scan from %q, %d", start, count)
		for j, wk := range wantKeys {
			require.Equal(t, m.recs[wk], recs[j], "scan from %q: record %d should be %q's", start, j, wk)
		}
	}
	scan(k, 10, m.keys[i:i+10])
	scan(k, 1, m.keys[i:i+1])
	scan(k+"!", 5, m.keys[i+1:i+6]) // '!' sorts before every digit: just after k
	last := m.keys[len(m.keys)-1]
	scan(last, 10, []string{last})
	scan("z", 10, nil)
	recs, err := m.db.Scan(ctx, table, k, 3, []string{"field0"})
	require.NoError(t, err)
	require.Len(t, recs, 3)
	for j, r := range recs {
		require.Equal(t, map[string][]byte{"field0": m.recs[m.keys[i+j]]["field0"]}, r)
	}

	// Delete: the record reads as absent, updates fail, scans skip it.
	require.NoError(t, m.Delete(ctx, table, k))
	_, err = m.db.Read(ctx, table, k, nil)
	require.ErrorIs(t, err, ycsbdb.ErrNotFound)
	require.ErrorIs(t, m.db.Update(ctx, table, k, map[string][]byte{"field0": []byte("x")}), ycsbdb.ErrNotFound)
	scan(k, 3, m.keys[i:i+3]) // m.keys no longer holds k
	require.NoError(t, m.db.Delete(ctx, table, k), "deleting an absent record")
	require.NoError(t, m.Insert(ctx, table, k, map[string][]byte{"field0": []byte("back")}))
	got, err = m.db.Read(ctx, table, k, nil)
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"field0": []byte("back")}, got)
}

// checkConcurrentUpdates has threads update different fields of one record
// at once: an Update that is not atomic loses some of the writes.
func checkConcurrentUpdates(ctx context.Context, t *testing.T, db ycsb.DB) {
	const threads, rounds = 4, 300
	key := "concurrent"
	require.NoError(t, db.Insert(ctx, table, key, map[string][]byte{"seed": []byte("0")}))
	var wg sync.WaitGroup
	errs := make(chan error, threads)
	for g := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				if err := db.Update(ctx, table, key, map[string][]byte{fmt.Sprint("f", g): []byte(fmt.Sprint(r))}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := db.Read(ctx, table, key, nil)
	require.NoError(t, err)
	want := map[string][]byte{"seed": []byte("0")}
	for g := range threads {
		want[fmt.Sprint("f", g)] = []byte(fmt.Sprint(rounds - 1))
	}
	require.Equal(t, want, got)
}

// model is a ycsb.DB in front of a binding that keeps what was written
// and checks every read and scan against it. Writes hold mu exclusively
// and reads hold it shared, so the model's order is the database's.
type model struct {
	t  *testing.T
	db ycsb.DB

	mu   sync.RWMutex
	recs map[string]map[string][]byte
	keys []string // sorted

	reads, scans, failures atomic.Int64
}

func newModel(t *testing.T, db ycsb.DB) *model {
	return &model{t: t, db: db, recs: map[string]map[string][]byte{}}
}

// fail reports a mismatch from any goroutine (t.Errorf is safe there,
// require is not), the first few in full.
func (m *model) fail(format string, args ...any) {
	if m.failures.Add(1) <= 5 {
		m.t.Errorf(format, args...)
	}
}

func (m *model) Close() error { return nil }

func (m *model) InitThread(ctx context.Context, id, n int) context.Context {
	return m.db.InitThread(ctx, id, n)
}

func (m *model) CleanupThread(ctx context.Context) { m.db.CleanupThread(ctx) }

// project is rec's fields named in fields (all when empty).
func project(rec map[string][]byte, fields []string) map[string][]byte {
	out := map[string][]byte{}
	for f, v := range rec {
		if len(fields) == 0 || slices.Contains(fields, f) {
			out[f] = v
		}
	}
	return out
}

func equalRecords(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for f, v := range a {
		if w, ok := b[f]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

func (m *model) Read(ctx context.Context, tbl, key string, fields []string) (map[string][]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	m.reads.Add(1)
	got, err := m.db.Read(ctx, tbl, key, fields)
	want, ok := m.recs[key]
	switch {
	case !ok && !errors.Is(err, ycsbdb.ErrNotFound):
		m.fail("read %q: absent record, got %v", key, err)
	case ok && err != nil:
		m.fail("read %q: %v", key, err)
	case ok && !equalRecords(got, project(want, fields)):
		m.fail("read %q %v: got %d fields, not the ones written", key, fields, len(got))
	}
	return got, err
}

func (m *model) Scan(ctx context.Context, tbl, startKey string, count int, fields []string) ([]map[string][]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	m.scans.Add(1)
	got, err := m.db.Scan(ctx, tbl, startKey, count, fields)
	if err != nil {
		m.fail("scan from %q: %v", startKey, err)
		return got, err
	}
	i, _ := slices.BinarySearch(m.keys, startKey)
	want := m.keys[i:min(i+count, len(m.keys))]
	if len(got) != len(want) {
		m.fail("scan from %q, %d: %d records, want %d", startKey, count, len(got), len(want))
		return got, err
	}
	for j, k := range want {
		if !equalRecords(got[j], project(m.recs[k], fields)) {
			m.fail("scan from %q: record %d is not %q's", startKey, j, k)
			break
		}
	}
	return got, err
}

func clone(values map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(values))
	for f, v := range values {
		out[f] = bytes.Clone(v) // the workload reuses its buffers
	}
	return out
}

func (m *model) Update(ctx context.Context, tbl, key string, values map[string][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.db.Update(ctx, tbl, key, values)
	rec, ok := m.recs[key]
	switch {
	case !ok && !errors.Is(err, ycsbdb.ErrNotFound):
		m.fail("update %q: absent record, got %v", key, err)
	case ok && err != nil:
		m.fail("update %q: %v", key, err)
	case ok:
		for f, v := range clone(values) {
			rec[f] = v
		}
	}
	return err
}

func (m *model) Insert(ctx context.Context, tbl, key string, values map[string][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.db.Insert(ctx, tbl, key, values)
	if err != nil {
		m.fail("insert %q: %v", key, err)
		return err
	}
	if _, ok := m.recs[key]; !ok {
		i, _ := slices.BinarySearch(m.keys, key)
		m.keys = slices.Insert(m.keys, i, key)
	}
	m.recs[key] = clone(values)
	return nil
}

func (m *model) Delete(ctx context.Context, tbl, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.db.Delete(ctx, tbl, key)
	if err != nil {
		m.fail("delete %q: %v", key, err)
		return err
	}
	if i, ok := slices.BinarySearch(m.keys, key); ok {
		m.keys = slices.Delete(m.keys, i, i+1)
	}
	delete(m.recs, key)
	return nil
}

// checkReads reads n random records through the model, which checks them.
func (m *model) checkReads(ctx context.Context, rng *rand.Rand, n int) {
	m.t.Helper()
	for range n {
		k := m.keys[rng.IntN(len(m.keys))]
		_, err := m.Read(ctx, table, k, nil)
		require.NoError(m.t, err)
	}
	require.Zero(m.t, m.failures.Load(), "the model saw wrong reads or scans")
}
