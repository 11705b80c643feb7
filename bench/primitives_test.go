package bench

import (
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/inmem-db/inmem/primitives"
	_ "modernc.org/sqlite" // pure-Go SQLite, registered as "sqlite"
)

// The agent-primitive benchmarks: the event log, state cells and traces
// one op at a time, and one whole agent step (event + KV put + CAS +
// span in one transaction) against the same step in SQLite.
//
//   - BenchmarkEventAppend: run.Events().Append of a 100-byte payload.
//   - BenchmarkStateCAS: run.State().CAS of one cell, each op expecting
//     the version the previous one returned.
//   - BenchmarkSpanRecord: run.Traces().Record of an LLMCall span (GenAI
//     model and token attrs, 200-byte input and output) under a root span.
//   - BenchmarkAgentStep: the four writes in one run.Update, and in one
//     SQLite transaction (WAL, synchronous=NORMAL).
//
// Each has sub-benchmarks mem (OpenInMemory) and batched (Open with the
// default Batched 100ms durability, on b.TempDir()). Every op is timed on
// its own for the p50-ns and p99-ns metrics; the two clock reads that
// costs are in every peer's ns/op alike.
//
//	go test -run xxx -bench 'EventAppend|StateCAS|SpanRecord|AgentStep' -benchtime 20000x -count 5

const (
	stepPayloadLen = 100 // event payload and KV value of an agent step
	spanIOLen      = 200 // span input and output: a short prompt and reply
	stepEventType  = "tool_result"
	stepCell       = "steps"
)

var (
	stepPayload = fill(stepPayloadLen, 3)
	stepKVValue = fill(stepPayloadLen, 5)
	spanInput   = fill(spanIOLen, 11)
	spanOutput  = fill(spanIOLen, 13)
	// spanAttrs is shared by every recorded span: the databases copy it,
	// and building a map per op would be the harness's cost, not theirs.
	spanAttrs = map[string]string{
		"gen_ai.operation.name":      "chat",
		"gen_ai.request.model":       "gpt-4o-mini",
		"gen_ai.usage.input_tokens":  "512",
		"gen_ai.usage.output_tokens": "128",
	}
)

// fill returns n printable bytes, different per seed.
func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + (seed+byte(i)*7)%26
	}
	return b
}

// llmSpan is the LLM call an agent step records: it ended at now, under
// the run's root span.
func llmSpan(parent inmem.SpanID, now time.Time) inmem.Span {
	return inmem.Span{
		Parent: parent,
		Kind:   inmem.LLMCall,
		Name:   "chat gpt-4o-mini",
		Start:  now.Add(-800 * time.Millisecond),
		End:    now,
		Status: inmem.StatusOK,
		Input:  spanInput,
		Output: spanOutput,
		Attrs:  spanAttrs,
	}
}

// inmemModes are the two ways the primitive benchmarks open inmem.
var inmemModes = []struct {
	name string
	open func(b *testing.B) (*inmem.DB, error)
}{
	{"inmem", func(*testing.B) (*inmem.DB, error) { return inmem.OpenInMemory() }},
	{"inmem-batched", func(b *testing.B) (*inmem.DB, error) { return inmem.Open(b.TempDir()) }},
}

// forInmemModes runs bench as sub-benchmarks inmem and inmem-batched, each on a
// fresh database and run; the database is closed outside the timer.
func forInmemModes(b *testing.B, bench func(b *testing.B, run *inmem.Run)) {
	for _, m := range inmemModes {
		b.Run(m.name, func(b *testing.B) {
			db, err := m.open(b)
			if err != nil {
				b.Fatal(err)
			}
			run, err := db.BeginRun()
			if err != nil {
				b.Fatal(err)
			}
			bench(b, run)
			b.StopTimer()
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// timeOps runs op for i in [0, b.N), timing each call, and reports
// allocs and p50/p99 latency. The timer covers exactly the loop.
func timeOps(b *testing.B, op func(i int) error) {
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := op(i); err != nil {
			b.Fatalf("op %d: %v", i, err)
		}
		lat[i] = time.Since(t0)
	}
	b.StopTimer()
	reportLatency(b, [][]time.Duration{lat})
}

// ---- single primitives -----------------------------------------------------

// BenchmarkEventAppend appends one event per op, each its own transaction.
func BenchmarkEventAppend(b *testing.B) {
	forInmemModes(b, func(b *testing.B, run *inmem.Run) {
		ev := run.Events()
		timeOps(b, func(int) error {
			_, err := ev.Append(stepEventType, stepPayload)
			return err
		})
	})
}

// BenchmarkStateCAS advances one cell per op by CAS on the version the
// previous op returned, as a single coordinator would.
func BenchmarkStateCAS(b *testing.B) {
	forInmemModes(b, func(b *testing.B, run *inmem.Run) {
		st := run.State()
		var val [8]byte
		c, err := st.Init(stepCell, val[:])
		if err != nil {
			b.Fatal(err)
		}
		timeOps(b, func(i int) error {
			binary.BigEndian.PutUint64(val[:], uint64(i+1))
			c, err = st.CAS(stepCell, c.Version, val[:])
			return err
		})
	})
}

// BenchmarkSpanRecord records one LLMCall span per op under a root span.
func BenchmarkSpanRecord(b *testing.B) {
	forInmemModes(b, func(b *testing.B, run *inmem.Run) {
		tr := run.Traces()
		root, err := tr.Record(inmem.Span{Kind: inmem.Custom, Name: "agent"})
		if err != nil {
			b.Fatal(err)
		}
		timeOps(b, func(int) error {
			_, err := tr.Record(llmSpan(root, time.Now()))
			return err
		})
	})
}

// ---- agent step ------------------------------------------------------------

// BenchmarkAgentStep is one step of an agent loop as one transaction:
// append the tool result to the event log, put a 100-byte value under a
// fresh key, CAS the step counter and record the LLM call's span.
func BenchmarkAgentStep(b *testing.B) {
	dbLoadKeys()
	forInmemModes(b, func(b *testing.B, run *inmem.Run) {
		var val [8]byte
		c, err := run.State().Init(stepCell, val[:])
		if err != nil {
			b.Fatal(err)
		}
		root, err := run.Traces().Record(inmem.Span{Kind: inmem.Custom, Name: "agent"})
		if err != nil {
			b.Fatal(err)
		}
		timeOps(b, func(i int) error {
			binary.BigEndian.PutUint64(val[:], uint64(i+1))
			now := time.Now()
			return run.Update(func(tx *inmem.Tx) error {
				if _, err := tx.Events().Append(stepEventType, stepPayload); err != nil {
					return err
				}
				if err := tx.KV().Put(dbKey(i%dbKeyCount), stepKVValue); err != nil {
					return err
				}
				next, err := tx.State().CAS(stepCell, c.Version, val[:])
				if err != nil {
					return err
				}
				if _, err := tx.Traces().Record(llmSpan(root, now)); err != nil {
					return err
				}
				c = next
				return nil
			})
		})
		// Every step committed all four writes.
		if n, err := run.Events().Len(); err != nil || n != uint64(b.N) || c.Version != uint64(b.N)+1 {
			b.Fatalf("after %d steps: %d events (%v), cell version %d", b.N, n, err, c.Version)
		}
	})
	b.Run("sqlite", func(b *testing.B) {
		s := openSQLiteAgent(b)
		defer s.close(b)
		timeOps(b, func(i int) error {
			binary.BigEndian.PutUint64(s.val[:], uint64(i+1))
			return s.step(dbKey(i%dbKeyCount), time.Now())
		})
		var n int
		if err := s.db.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil || n != b.N || s.version != int64(b.N)+1 {
			b.Fatalf("after %d steps: %d events (%v), cell version %d", b.N, n, err, s.version)
		}
	})
	// The key-value peers, with the layout of agentkv_test.go.
	for _, o := range []opener{openBadgerMem, openBadgerDisk, openBoltNoSync, openBTree} {
		b.Run(o.name, func(b *testing.B) {
			s, err := o.open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			a, err := newKVAgent(s)
			if err != nil {
				b.Fatal(err)
			}
			var val [8]byte
			timeOps(b, func(i int) error {
				binary.BigEndian.PutUint64(val[:], uint64(i+1))
				return a.step(dbKeyBytes(i%dbKeyCount), time.Now(), val[:])
			})
			if n, err := a.events(); err != nil || n != uint64(b.N) || a.version != uint64(b.N)+1 {
				b.Fatalf("after %d steps: %d events (%v), cell version %d", b.N, n, err, a.version)
			}
			if err := s.close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// ---- SQLite peer -----------------------------------------------------------

// The SQLite schema is what an application storing the same data would
// create: a run column everywhere (one file holds many runs), the event
// log keyed by run+seq, KV and cells keyed by run+name (WITHOUT ROWID, so
// the key is the table's one B-tree), spans with an integer id and an index
// by run+parent for the span tree. inmem additionally indexes events by
// type and spans by kind, name and start time; this schema does not, so
// SQLite does less index work per step than inmem.
const sqliteAgentSchema = `
CREATE TABLE events (
	run BLOB NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, payload BLOB,
	time INTEGER NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL,
	PRIMARY KEY (run, seq)
) WITHOUT ROWID;
CREATE TABLE kv (
	run BLOB NOT NULL, key TEXT NOT NULL, value BLOB,
	PRIMARY KEY (run, key)
) WITHOUT ROWID;
CREATE TABLE cells (
	run BLOB NOT NULL, name TEXT NOT NULL, value BLOB, version INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	PRIMARY KEY (run, name)
) WITHOUT ROWID;
CREATE TABLE spans (
	id INTEGER PRIMARY KEY, run BLOB NOT NULL, parent INTEGER NOT NULL,
	kind INTEGER NOT NULL, name TEXT NOT NULL, start INTEGER NOT NULL,
	end INTEGER NOT NULL, status TEXT NOT NULL, input BLOB, output BLOB,
	attrs TEXT
);
CREATE INDEX spans_by_parent ON spans (run, parent, start);
`

// sqliteAgent holds the database and the statements prepared once and
// reused by every step.
type sqliteAgent struct {
	db                                         *sql.DB
	head, addEvent, putKV, casCell, recordSpan *sql.Stmt
	run                                        []byte
	root                                       int64
	version                                    int64
	val                                        [8]byte
}

func openSQLiteAgent(b *testing.B) *sqliteAgent {
	b.Helper()
	// WAL with synchronous=NORMAL fsyncs only at checkpoints: a commit
	// survives a crash of the process but not of the machine, the nearest
	// SQLite has to inmem's Batched (which may lose the last 100ms).
	dsn := "file:" + filepath.Join(b.TempDir(), "agent.db") +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		b.Fatal(err)
	}
	// One writer, one connection: the pragmas and prepared statements stay
	// on it, and every transaction reuses them.
	db.SetMaxOpenConns(1)
	s := &sqliteAgent{db: db, run: fill(16, 17), version: 1}
	var mode string
	var sync int
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		b.Fatalf("journal_mode %q: %v", mode, err)
	}
	if err := db.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 1 {
		b.Fatalf("synchronous %d (want 1, NORMAL): %v", sync, err)
	}
	if _, err := db.Exec(sqliteAgentSchema); err != nil {
		b.Fatal(err)
	}
	prep := func(q string) *sql.Stmt {
		st, err := db.Prepare(q)
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	s.head = prep(`SELECT seq, hash FROM events WHERE run = ? ORDER BY seq DESC LIMIT 1`)
	s.addEvent = prep(`INSERT INTO events (run, seq, type, payload, time, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	s.putKV = prep(`INSERT INTO kv (run, key, value) VALUES (?, ?, ?) ON CONFLICT (run, key) DO UPDATE SET value = excluded.value`)
	s.casCell = prep(`UPDATE cells SET value = ?, version = version + 1, updated = ? WHERE run = ? AND name = ? AND version = ?`)
	s.recordSpan = prep(`INSERT INTO spans (run, parent, kind, name, start, end, status, input, output, attrs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	now := time.Now().UnixNano()
	if _, err := db.Exec(`INSERT INTO cells (run, name, value, version, updated) VALUES (?, ?, ?, 1, ?)`,
		s.run, stepCell, s.val[:], now); err != nil {
		b.Fatal(err)
	}
	res, err := db.Exec(`INSERT INTO spans (run, parent, kind, name, start, end, status) VALUES (?, 0, ?, 'agent', ?, 0, '')`,
		s.run, int(inmem.Custom), now)
	if err != nil {
		b.Fatal(err)
	}
	if s.root, err = res.LastInsertId(); err != nil {
		b.Fatal(err)
	}
	return s
}

// step is BenchmarkAgentStep's transaction in SQLite: the same four
// writes, with the event's SHA-256 chain computed as inmem computes it
// from the head read in the transaction, and the span's attrs as JSON.
func (s *sqliteAgent) step(key string, now time.Time) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit

	var seq int64
	var prev [32]byte
	var last []byte
	switch err := tx.Stmt(s.head).QueryRow(s.run).Scan(&seq, &last); {
	case errors.Is(err, sql.ErrNoRows):
		seq = 0
	case err != nil:
		return err
	default:
		copy(prev[:], last)
		seq++
	}
	evTime := time.Unix(0, now.UnixNano())
	hash := primitives.EventHash(uint64(seq), stepEventType, stepPayload, evTime, prev)
	if _, err := tx.Stmt(s.addEvent).Exec(s.run, seq, stepEventType, stepPayload, evTime.UnixNano(), prev[:], hash[:]); err != nil {
		return err
	}

	if _, err := tx.Stmt(s.putKV).Exec(s.run, key, stepKVValue); err != nil {
		return err
	}

	res, err := tx.Stmt(s.casCell).Exec(s.val[:], now.UnixNano(), s.run, stepCell, s.version)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return fmt.Errorf("cell %s: version %d: %w", stepCell, s.version, inmem.ErrVersionMismatch)
	}

	sp := llmSpan(inmem.SpanID(s.root), now)
	attrs, err := json.Marshal(sp.Attrs)
	if err != nil {
		return err
	}
	if _, err := tx.Stmt(s.recordSpan).Exec(s.run, s.root, int(sp.Kind), sp.Name,
		sp.Start.UnixNano(), sp.End.UnixNano(), string(sp.Status), sp.Input, sp.Output, attrs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.version++
	return nil
}

func (s *sqliteAgent) close(b *testing.B) {
	b.StopTimer()
	for _, st := range []*sql.Stmt{s.head, s.addEvent, s.putKV, s.casCell, s.recordSpan} {
		st.Close()
	}
	if err := s.db.Close(); err != nil {
		b.Fatal(err)
	}
}
