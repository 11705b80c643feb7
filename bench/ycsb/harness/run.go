package harness

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/magiconair/properties"
	"github.com/pingcap/go-ycsb/pkg/client"
	"github.com/pingcap/go-ycsb/pkg/measurement"
	"github.com/pingcap/go-ycsb/pkg/prop"
	_ "github.com/pingcap/go-ycsb/pkg/workload" // registers the "core" workload
	"github.com/pingcap/go-ycsb/pkg/ycsb"
)

// Options describe one run of a workload.
type Options struct {
	// Records is how many records the database holds: the load's count
	// plus every record earlier runs inserted (Result.Inserted). Keys are
	// drawn from them, and inserts continue after them.
	Records int64
	// Ops is the number of operations, split among the threads.
	Ops int64
	// Threads is the number of client threads.
	Threads int
	// Distribution is the request distribution, "zipfian" or "uniform";
	// workload D uses "latest" whatever it says.
	Distribution string
	// Props override the properties of the run (tests use it).
	Props map[string]string
}

// Latency summarises a histogram of latencies.
type Latency struct {
	Mean, P50, P99, P999, Max time.Duration
}

func latencyOf(h *hdrhistogram.Histogram) Latency {
	return Latency{
		Mean: time.Duration(h.Mean()),
		P50:  time.Duration(h.ValueAtQuantile(50)),
		P99:  time.Duration(h.ValueAtQuantile(99)),
		P999: time.Duration(h.ValueAtQuantile(99.9)),
		Max:  time.Duration(h.Max()),
	}
}

// Calls is what one kind of database call did in a run.
type Calls struct {
	Count    int64
	NotFound int64 // of records that were absent: YCSB's zipfian keys may lie past the last one
	Errors   int64 // other failures
	Latency  Latency
}

// Result is what a load or a run measured.
type Result struct {
	// Ops is the number of YCSB operations done; a read-modify-write is
	// one, as YCSB counts it.
	Ops     int64
	Elapsed time.Duration
	// Throughput is Ops per second of Elapsed.
	Throughput float64
	// Latency is of one operation as the workload performs it: choosing
	// the key, building the values, and the database calls.
	Latency Latency
	// Calls are the database calls by kind (READ, UPDATE, INSERT, SCAN,
	// DELETE), the kinds made at least once.
	Calls map[string]Calls
	// Inserted is the number of records the operations inserted (or tried
	// to): the next run's Records grows by it.
	Inserted int64
	// NotFound counts operations that met an absent record.
	NotFound int64
	// Errors counts operations that failed otherwise; FirstError is one.
	Errors     int64
	FirstError string `json:",omitempty"`
}

// Load inserts records records (keys 0 to records-1 in YCSB's hashed
// order) with threads threads.
func Load(ctx context.Context, db ycsb.DB, records int64, threads int) (Result, error) {
	if records < int64(threads) || threads < 1 {
		return Result{}, fmt.Errorf("load of %d records with %d threads: need records >= threads >= 1", records, threads)
	}
	p := baseProps(records, threads)
	set(p, prop.DoTransactions, "false")
	set(p, prop.RequestDistribution, "uniform")
	return drive(ctx, db, p, records)
}

// Run runs workload w on a loaded database.
func Run(ctx context.Context, db ycsb.DB, w Workload, o Options) (Result, error) {
	if o.Ops < int64(o.Threads) || o.Threads < 1 {
		return Result{}, fmt.Errorf("run of %d operations with %d threads: need ops >= threads >= 1", o.Ops, o.Threads)
	}
	if o.Records < 1 {
		return Result{}, fmt.Errorf("run on %d records: load some first", o.Records)
	}
	dist := w.Distribution(o.Distribution)
	if dist != "zipfian" && dist != "uniform" && dist != "latest" {
		return Result{}, fmt.Errorf("request distribution %q: zipfian or uniform", o.Distribution)
	}
	p := baseProps(o.Records, o.Threads)
	set(p, prop.DoTransactions, "true")
	set(p, prop.OperationCount, strconv.FormatInt(o.Ops, 10))
	set(p, prop.RequestDistribution, dist)
	for k, v := range w.Props {
		set(p, k, v)
	}
	for k, v := range o.Props {
		set(p, k, v)
	}
	return drive(ctx, db, p, o.Ops)
}

// baseProps are the properties of every load and run: YCSB's core
// workload with its standard record (ten fields of 100 bytes) and key
// order (hashed), and no periodic summaries on stdout.
func baseProps(records int64, threads int) *properties.Properties {
	p := properties.NewProperties()
	for k, v := range map[string]string{
		prop.Workload:                "core",
		prop.RecordCount:             strconv.FormatInt(records, 10),
		prop.ThreadCount:             strconv.Itoa(threads),
		prop.FieldCount:              "10",
		prop.FieldLength:             "100",
		prop.FieldLengthDistribution: "constant",
		prop.ReadAllFields:           "true",
		prop.WriteAllFields:          "false",
		prop.InsertOrder:             "hashed",
		prop.LogInterval:             "1000000", // seconds between summaries: never, in practice
	} {
		set(p, k, v)
	}
	return p
}

// set sets a property; Set fails only on a value with a circular
// reference (${...}), which these never hold.
func set(p *properties.Properties, k, v string) {
	if _, _, err := p.Set(k, v); err != nil {
		panic(fmt.Sprintf("property %s=%q: %v", k, v, err))
	}
}

// stdoutMu serialises the swaps of os.Stdout in newWorkload.
var stdoutMu sync.Mutex

// newWorkload makes the core workload. Its constructor prints the key
// range to stdout, which is the table's; the line goes to stderr with the
// rest of the progress.
func newWorkload(p *properties.Properties) (ycsb.Workload, error) {
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	saved := os.Stdout
	os.Stdout = os.Stderr
	defer func() { os.Stdout = saved }()
	return ycsb.GetWorkloadCreator("core").Create(p)
}

// drive runs go-ycsb's client over db with properties p; ops is the number
// of operations the client will do.
func drive(ctx context.Context, db ycsb.DB, p *properties.Properties, ops int64) (Result, error) {
	// The client and the core workload report through go-ycsb's global
	// measurement, which must exist; it is not what this package reports.
	measurement.InitMeasure(p)
	wl, err := newWorkload(p)
	if err != nil {
		return Result{}, fmt.Errorf("core workload: %w", err)
	}
	c := &collector{}
	start := time.Now()
	client.NewClient(p, timedWorkload{wl, c}, timedDB{db}).Run(ctx)
	elapsed := time.Since(start)
	if err := wl.Close(); err != nil {
		return Result{}, fmt.Errorf("core workload: close: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	s := c.merged()
	r := Result{
		Ops:      s.ops.hist.TotalCount(),
		Elapsed:  elapsed,
		Latency:  latencyOf(s.ops.hist),
		Calls:    map[string]Calls{},
		Inserted: s.calls[opInsert].hist.TotalCount(),
		NotFound: s.ops.notFound,
		Errors:   s.ops.errors,
	}
	r.Throughput = float64(r.Ops) / elapsed.Seconds()
	for i, t := range s.calls {
		if n := t.hist.TotalCount(); n > 0 {
			r.Calls[opNames[i]] = Calls{Count: n, NotFound: t.notFound, Errors: t.errors, Latency: latencyOf(t.hist)}
		}
	}
	if r.Ops != ops {
		return r, fmt.Errorf("the client did %d operations of %d", r.Ops, ops)
	}
	if s.ops.firstErr != nil {
		r.FirstError = s.ops.firstErr.Error()
		return r, fmt.Errorf("%d of %d operations failed; the first: %w", r.Errors, r.Ops, s.ops.firstErr)
	}
	return r, nil
}
