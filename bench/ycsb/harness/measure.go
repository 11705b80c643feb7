package harness

import (
	"context"
	"errors"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/inmem-db/inmem/bench/ycsb/ycsbdb"
	"github.com/pingcap/go-ycsb/pkg/ycsb"
)

// maxLatency is the histograms' ceiling; a slower operation counts as this.
const maxLatency = int64(time.Minute)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, maxLatency, 3) // 3 significant digits
}

// The database calls measured, in the order tables list them.
const (
	opRead = iota
	opUpdate
	opInsert
	opScan
	opDelete
	numOps
)

var opNames = [numOps]string{"READ", "UPDATE", "INSERT", "SCAN", "DELETE"}

// tally counts one kind of operation of one thread.
type tally struct {
	hist     *hdrhistogram.Histogram
	notFound int64
	errors   int64
	firstErr error
}

func newTally() *tally { return &tally{hist: newHistogram()} }

func (t *tally) record(start time.Time, err error) {
	d := min(int64(time.Since(start)), maxLatency)
	// RecordValue fails only for a value beyond the histogram's range,
	// which the min above rules out.
	_ = t.hist.RecordValue(max(d, 1))
	switch {
	case err == nil:
	case errors.Is(err, ycsbdb.ErrNotFound):
		t.notFound++
	default:
		t.errors++
		if t.firstErr == nil {
			t.firstErr = err
		}
	}
}

func (t *tally) merge(o *tally) {
	t.hist.Merge(o.hist)
	t.notFound += o.notFound
	t.errors += o.errors
	if t.firstErr == nil {
		t.firstErr = o.firstErr
	}
}

// threadStats is what one worker thread measures: each YCSB operation as
// the workload performs it (a read-modify-write is one), and each database
// call.
type threadStats struct {
	ops   *tally
	calls [numOps]*tally
}

func newThreadStats() *threadStats {
	s := &threadStats{ops: newTally()}
	for i := range s.calls {
		s.calls[i] = newTally()
	}
	return s
}

// collector hands each thread its stats and merges them at the end.
type collector struct {
	mu      sync.Mutex
	threads []*threadStats
}

func (c *collector) thread() *threadStats {
	s := newThreadStats()
	c.mu.Lock()
	c.threads = append(c.threads, s)
	c.mu.Unlock()
	return s
}

func (c *collector) merged() *threadStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	all := newThreadStats()
	for _, s := range c.threads {
		all.ops.merge(s.ops)
		for i := range all.calls {
			all.calls[i].merge(s.calls[i])
		}
	}
	return all
}

type statsKey struct{}

func statsOf(ctx context.Context) *threadStats { return ctx.Value(statsKey{}).(*threadStats) }

// timedWorkload times each operation of the workload. go-ycsb's client
// calls its InitThread before the database's, so the stats it puts in the
// context reach timedDB too.
type timedWorkload struct {
	ycsb.Workload
	c *collector
}

func (w timedWorkload) InitThread(ctx context.Context, id, n int) context.Context {
	ctx = w.Workload.InitThread(ctx, id, n)
	return context.WithValue(ctx, statsKey{}, w.c.thread())
}

func (w timedWorkload) DoInsert(ctx context.Context, db ycsb.DB) error {
	start := time.Now()
	err := w.Workload.DoInsert(ctx, db)
	statsOf(ctx).ops.record(start, err)
	return err
}

func (w timedWorkload) DoTransaction(ctx context.Context, db ycsb.DB) error {
	start := time.Now()
	err := w.Workload.DoTransaction(ctx, db)
	statsOf(ctx).ops.record(start, err)
	return err
}

// timedDB times each database call and sorts its errors.
type timedDB struct{ ycsb.DB }

func (d timedDB) Read(ctx context.Context, table, key string, fields []string) (map[string][]byte, error) {
	start := time.Now()
	rec, err := d.DB.Read(ctx, table, key, fields)
	statsOf(ctx).calls[opRead].record(start, err)
	return rec, err
}

func (d timedDB) Scan(ctx context.Context, table, startKey string, count int, fields []string) ([]map[string][]byte, error) {
	start := time.Now()
	recs, err := d.DB.Scan(ctx, table, startKey, count, fields)
	statsOf(ctx).calls[opScan].record(start, err)
	return recs, err
}

func (d timedDB) Update(ctx context.Context, table, key string, values map[string][]byte) error {
	start := time.Now()
	err := d.DB.Update(ctx, table, key, values)
	statsOf(ctx).calls[opUpdate].record(start, err)
	return err
}

func (d timedDB) Insert(ctx context.Context, table, key string, values map[string][]byte) error {
	start := time.Now()
	err := d.DB.Insert(ctx, table, key, values)
	statsOf(ctx).calls[opInsert].record(start, err)
	return err
}

func (d timedDB) Delete(ctx context.Context, table, key string) error {
	start := time.Now()
	err := d.DB.Delete(ctx, table, key)
	statsOf(ctx).calls[opDelete].record(start, err)
	return err
}
