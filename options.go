package inmem

import (
	"fmt"
	"github.com/hashicorp/raft"
	"log/slog"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
)

// Durability says when a commit reaches stable storage. It only matters for
// databases opened with Open; OpenInMemory writes no files.
type Durability struct {
	mode       durabilityMode
	interval   time.Duration
	maxCommits int
}

type durabilityMode uint8

const (
	modeStrict durabilityMode = iota + 1
	modeBatched
	modeAsync
)

// Strict makes Commit return only after its WAL record is fsynced.
func Strict() Durability { return Durability{mode: modeStrict} }

// Batched fsyncs when interval has passed or maxCommits commits are
// unsynced, whichever comes first. Commit returns after the write, so a crash
// loses at most that window. Batched(100*time.Millisecond, 1000) is the
// default for Open.
func Batched(interval time.Duration, maxCommits int) Durability {
	return Durability{mode: modeBatched, interval: interval, maxCommits: maxCommits}
}

// Async fsyncs in the background every interval.
func Async(interval time.Duration) Durability {
	return Durability{mode: modeAsync, interval: interval}
}

func (d Durability) validate() error {
	switch d.mode {
	case modeStrict:
		return nil
	case modeBatched:
		if d.interval <= 0 || d.maxCommits <= 0 {
			return fmt.Errorf("durability: Batched needs a positive interval and commit count: %w", ErrInvalidArgument)
		}
	case modeAsync:
		if d.interval <= 0 {
			return fmt.Errorf("durability: Async needs a positive interval: %w", ErrInvalidArgument)
		}
	default:
		return fmt.Errorf("durability: use Strict, Batched or Async: %w", ErrInvalidArgument)
	}
	return nil
}

// Option configures Open and OpenInMemory.
type Option func(*options)

type options struct {
	durability      Durability
	checkpointEvery int64
	reclaimAt       int64         // arena bytes in use that start a reclaim; 0: never by itself
	coldAfter       time.Duration // ended runs move to the cold tier this long after; < 0: never by themselves
	blockCache      int64         // bytes of cold blocks cached
	clock           func() time.Time
	logger          *slog.Logger
	cluster         *Cluster                                // WithCluster
	clusterStream   func(raft.StreamLayer) raft.StreamLayer // tests: wraps the raft transport's connections
	clusterLogs     [2]uint64                               // tests: raft's snapshot threshold and trailing logs (0: defaults)
	progress        func(done, total int64)                 // recovery progress; nil: none
	fs              vfs.FS
	segmentSize     int64  // WAL segment size; 0: the log's default
	readOnly        bool   // WithReadOnly
	mustExist       bool   // WithMustExist (implied by readOnly)
	vacuumGate      func() // runs as each background vector vacuum starts; tests only
	reclaimGate     func() // runs as each background reclaim starts; tests only
	err             error
}

func defaultOptions() options {
	return options{
		durability:      Batched(100*time.Millisecond, 1000),
		checkpointEvery: 64 << 20,
		reclaimAt:       64 << 20,
		coldAfter:       10 * time.Minute,
		blockCache:      64 << 20,
		clock:           time.Now,
		logger:          slog.New(slog.DiscardHandler),
		fs:              vfs.OS,
	}
}

// WithDurability sets the fsync policy (default Batched(100ms, 1000)).
func WithDurability(d Durability) Option {
	return func(o *options) {
		if err := d.validate(); err != nil {
			o.err = err
			return
		}
		o.durability = d
	}
}

// WithReadOnly opens a database to read it without changing a byte of its
// directory: no lock is taken and nothing is created, recovered in place or
// logged, so it works beside the process that has the database open (an
// agent, `inmem serve`). It reads the durable state on disk as of Open:
// the newest snapshot that checks out and the WAL after it, up to the last
// whole record (a record being written is read as the log's end). Commits
// that land later are not seen; open again to see them. Every write, and
// Checkpoint, returns ErrReadOnly. A directory that holds no database is
// ErrNotFound. Only for Open: OpenInMemory refuses it.
func WithReadOnly() Option {
	return func(o *options) { o.readOnly, o.mustExist = true, true }
}

// WithMustExist makes Open fail with ErrNotFound, creating nothing, when
// dir holds no database (no WAL directory and no snapshot): a mistyped
// path is then an error rather than a new, empty database.
func WithMustExist() Option {
	return func(o *options) { o.mustExist = true }
}

// WithCheckpointEvery writes a snapshot after this many bytes of WAL
// (default 64 MiB), and never before the WAL since the last snapshot is
// as large as that snapshot: a checkpoint rewrites the whole database, so
// its cost stays proportional to what was written.
func WithCheckpointEvery(walBytes int64) Option {
	return func(o *options) {
		if walBytes <= 0 {
			o.err = fmt.Errorf("checkpoint interval %d: %w", walBytes, ErrInvalidArgument)
			return
		}
		o.checkpointEvery = walBytes
	}
}

// WithReclaimAt starts a background reclaim (see DB.Reclaim) whenever the
// arena holds more than bytes in use and twice what the previous reclaim
// left (default 64 MiB). 0 turns automatic reclaim off.
func WithReclaimAt(bytes int64) Option {
	return func(o *options) {
		if bytes < 0 {
			o.err = fmt.Errorf("reclaim threshold %d: %w", bytes, ErrInvalidArgument)
			return
		}
		o.reclaimAt = bytes
	}
}

// WithColdAfter moves a run to the cold tier (see Runs.Freeze) once it
// has been ended for d (default 10 minutes): its history leaves RAM for
// files under DIR/cold/, and reads of it go on answering the same. 0
// freezes runs as soon as they end (in batches, within a fraction of a
// second); a negative d never freezes by itself.
func WithColdAfter(d time.Duration) Option {
	return func(o *options) { o.coldAfter = d }
}

// WithBlockCache sets how many bytes of decompressed cold-tier blocks are
// cached in memory (default 64 MiB).
func WithBlockCache(bytes int64) Option {
	return func(o *options) {
		if bytes <= 0 {
			o.err = fmt.Errorf("block cache of %d bytes: %w", bytes, ErrInvalidArgument)
			return
		}
		o.blockCache = bytes
	}
}

// WithClock replaces time.Now for timestamps and TTLs, for tests and
// deterministic replay.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now == nil {
			o.err = fmt.Errorf("nil clock: %w", ErrInvalidArgument)
			return
		}
		o.clock = now
	}
}

// WithLogger sets where the database reports recovery and background
// events (default: discarded).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l == nil {
			o.err = fmt.Errorf("nil logger: %w", ErrInvalidArgument)
			return
		}
		o.logger = l
	}
}

// WithRecoveryProgress has Open report how far recovery has read, for a
// progress bar over a large database: done and total are bytes of the
// snapshot being loaded and the WAL replayed after it. fn runs on the
// goroutine calling Open, once each time the percent changes (about a
// hundred calls however large the database), last with done == total;
// done never decreases, and total grows only if a damaged snapshot makes
// recovery read an older one.
func WithRecoveryProgress(fn func(done, total int64)) Option {
	return func(o *options) {
		if fn == nil {
			o.err = fmt.Errorf("nil recovery progress: %w", ErrInvalidArgument)
			return
		}
		o.progress = fn
	}
}

// withFS replaces the filesystem under Open; tests use it to inject faults
// and simulate power loss.
func withFS(fs vfs.FS) Option {
	return func(o *options) { o.fs = fs }
}

// withVacuumGate makes every background vector-graph vacuum call gate
// before it looks at its graph: a test holds passes there to decide when
// they run relative to the writers.
func withVacuumGate(gate func()) Option {
	return func(o *options) { o.vacuumGate = gate }
}

// withReclaimGate makes every background reclaim call gate before it
// copies anything: a test holds reclaims there to decide when they run
// relative to the writers.
func withReclaimGate(gate func()) Option {
	return func(o *options) { o.reclaimGate = gate }
}

// withSegmentSize sets the WAL segment size; tests make it small so that
// segments roll often.
func withSegmentSize(n int64) Option {
	return func(o *options) { o.segmentSize = n }
}

// withClusterStream wraps the raft transport's stream layer of a cluster
// node: tests partition, delay and drop its connections there.
func withClusterStream(wrap func(raft.StreamLayer) raft.StreamLayer) Option {
	return func(o *options) { o.clusterStream = wrap }
}

// withClusterLogs sets how many raft log entries start a snapshot and how
// many a snapshot leaves in the log: tests make both small, so that the
// log is compacted and a new node needs the snapshot.
func withClusterLogs(threshold, trailing uint64) Option {
	return func(o *options) { o.clusterLogs = [2]uint64{threshold, trailing} }
}
