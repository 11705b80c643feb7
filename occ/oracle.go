package occ

import (
	"bytes"
	"errors"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrConflict is returned by Commit when a read was overwritten by a
// transaction that committed after the reader's snapshot.
var ErrConflict = errors.New("occ: conflict")

// ringSize bounds the number of versions assigned but not yet Done.
const ringSize = 1 << 10

// trimAt is the length of the commit ring at which Commit drops records no
// registered transaction can conflict with.
const trimAt = 256

// Write is one key a transaction writes: its fingerprint and encoded bytes.
// Key must stay unchanged until the oracle forgets the commit.
type Write struct {
	FP  uint64
	Key []byte
}

// Txn is what Commit validates.
type Txn struct {
	// Snapshot is the version returned by Begin.
	Snapshot uint64
	// Reads are fingerprints of keys read, found or not. Commit sorts them.
	Reads []uint64
	// Prefixes are encoded key prefixes listed or scanned.
	Prefixes [][]byte
	// Writes are copied by Commit, so the slice may be reused once it
	// returns; the keys they point to are not copied (see Keep).
	Writes []Write
	// Keep is held as long as the commit's record: whatever owns the
	// memory the Writes' keys alias, so it outlives every use of them.
	Keep any
}

// Guard is consulted inside the critical section after validation and
// before the version is final (a Serial guard of a blind write: under its
// own lock, see Serial). A non-nil error aborts the commit.
type Guard interface {
	Admit(version uint64) error
}

// A Serial guard orders the commits it admits by itself, so CommitBlind
// may admit one outside the critical section. AdmitLock returns the lock
// that does it (held from the version's assignment through Admit), or nil
// when the guard's commits need no order among themselves. Admit must
// change nothing when it refuses: outside the section the version is
// already taken, and a refused one is published empty.
type Serial interface {
	Guard
	AdmitLock() *sync.Mutex
}

type record struct {
	version uint64
	n       int // writes: the one below if 1, else ring[start : start+n]
	one     Write
	start   uint64
	keep    any // see Txn.Keep
}

// gate is next's top bit, set while a committer holds the critical
// section: blind commits outside it stop taking versions.
const gate = 1 << 63

// slot is a version's place in the ring of versions in flight, one cache
// line, so committers of neighbouring versions on different cores do not
// write the same line. done says the version is applied (see Done and
// Applied). A blind commit admitted outside the critical section leaves
// its write in the rest and then stores its version in rec; the next
// holder of the section moves it into recent (absorb). A refused one
// leaves a nil key.
type slot struct {
	done atomic.Uint64
	rec  atomic.Uint64
	fp   uint64
	key  []byte
	keep any
}

// Oracle assigns commit versions and detects conflicts.
//
// Its fields sit on lines by who writes them: mu alone, which a committer
// polling for it reads over and over (see lock.go); what polling reads
// beside it; next, which every commit writes; limit, which every blind
// commit reads and the section rarely writes; and what the critical
// section writes. Sharing a line with mu, each of the section's writes
// would wait for the poller's copy of the line to be invalidated.
type Oracle struct {
	mu sync.Mutex
	_  [56]byte

	spin    bool         // whether lock polls before queueing; see lock.go
	polling atomic.Bool  // a committer is polling for mu
	queued  atomic.Int32 // committers queued on mu by lock
	_       [52]byte

	// next is the last assigned version, with gate set while the section
	// is held. The section's holder assigns by storing it; a blind commit
	// outside the section by a compare-and-swap below limit.
	next atomic.Uint64
	_    [56]byte
	// limit is the highest version a blind commit may take outside the
	// section: its slot's last version is absorbed and visible.
	limit atomic.Uint64
	_     [56]byte

	limitSet  uint64        // limit as last stored; guarded by mu
	absorbed  uint64        // versions up to it are in recent or needless there; guarded by mu
	refused   atomic.Uint64 // versions taken outside the section by refused commits
	recent    []record      // commits, oldest first; guarded by mu
	ring      writeRing     // the writes of recent's multi-key commits; guarded by mu
	commits   uint64        // guarded by mu
	outside   uint64        // of commits, those absorbed; guarded by mu
	conflicts uint64        // guarded by mu
	// seen is a visible version read earlier, guarded by mu: the section
	// checks the versions in flight against it, and reads visible, a line
	// every publication writes, only when that check fails.
	seen uint64

	_ [72]byte
	// pub is the visible version above pubShift bits: a done bit for
	// each of the window versions above it, and slowFlag (see Done).
	pub atomic.Uint64
	// released is the highest version Released: Applied versions above
	// it are held (see Applied). On pub's line, which a release
	// writes next.
	released atomic.Uint64
	// acked is the highest version a committer returned before it was
	// visible (Ack) whose done bit pub does not hold. Readers wait for
	// visible to reach it. On pub's line too: the committer that writes
	// it has just read that line, and every reader reads it.
	acked atomic.Uint64
	// slowMax is the highest version recorded in its slot alone (slow):
	// slowFlag stays set while it is above visible.
	slowMax atomic.Uint64
	// acking is set by the first Ack: from then on readers wait for the
	// versions pub holds done bits for, which Ack leaves to them. An
	// oracle whose commits wait for visibility themselves (WaitVisible)
	// never Acks, and its readers read the visible version as it is.
	acking atomic.Bool
	_      [28]byte
	slots  [ringSize]slot

	active activeSet
}

// pub's layout: the visible version in the bits above pubShift; below
// them slowFlag, and a done bit for each of the window versions above the
// visible one (bit i for visible+1+i).
const (
	pubShift = 8
	window   = 7
	pubBits  = 1<<window - 1
	slowFlag = 1 << window
)

// MaxVersion is the highest commit version an oracle holds: pub keeps the
// visible version in its top 64-pubShift bits (2^56 commits, centuries at
// a hundred million a second).
const MaxVersion = 1<<(64-pubShift) - 1

// New returns an oracle whose last committed version is start, at most
// MaxVersion.
func New(start uint64) *Oracle {
	o := &Oracle{seen: start, absorbed: start, spin: canSpin()}
	o.next.Store(start)
	o.setLimit()
	o.pub.Store(start << pubShift)
	o.released.Store(start)
	o.slowMax.Store(start)
	return o
}

// visible is the visible version.
func (o *Oracle) visible() uint64 { return o.pub.Load() >> pubShift }

// covered returns the visible version and the one a new reader must wait
// for: the highest acknowledged one (Ack), which is the highest done
// version pub holds a bit for or acked, whichever is higher.
func (o *Oracle) covered() (vis, want uint64) {
	s := o.pub.Load()
	vis = s >> pubShift
	want = vis
	if o.acking.Load() {
		want += uint64(bits.Len64(s & pubBits))
	}
	return vis, max(want, o.acked.Load())
}

// Visible returns the newest version all of whose predecessors are applied:
// the snapshot a new reader should use. It covers every acknowledged
// commit: it waits, if need be, for the versions in flight below one that
// was acknowledged before it was visible (Ack).
func (o *Oracle) Visible() uint64 {
	v, want := o.covered()
	if want > v {
		o.WaitVisible(want)
		v = o.visible()
	}
	return v
}

// Begin registers a read-write transaction and returns its snapshot, which
// covers every acknowledged commit (see Visible). Every Begin must be
// paired with End(snapshot).
func (o *Oracle) Begin() uint64 {
	if v, want := o.covered(); want > v {
		o.WaitVisible(want)
	}
	return o.active.add(&o.pub)
}

// End unregisters a transaction begun at snapshot.
func (o *Oracle) End(snapshot uint64) { o.active.remove(snapshot) }

// Watermark returns the oldest snapshot any registered transaction holds,
// or the visible version if none is registered. Versions older than it that
// are shadowed by a newer version at or below it are unreachable by
// registered transactions.
func (o *Oracle) Watermark() uint64 {
	return o.active.watermark(&o.pub)
}

// Commit validates t and assigns its version. On success the caller must
// apply the writes and then call Done with the version.
func (o *Oracle) Commit(t *Txn, g Guard) (uint64, error) {
	if len(t.Reads) > 1 {
		slices.Sort(t.Reads)
	}
	if len(t.Reads)+len(t.Prefixes) == 0 {
		o.lock()
	} else {
		// Queue in turn: a validated commit that others overtake while
		// it polls is more likely to find its reads overwritten.
		o.mu.Lock()
	}
	last := o.enter()
	if len(t.Reads)+len(t.Prefixes) > 0 {
		for i := len(o.recent) - 1; i >= 0 && o.recent[i].version > t.Snapshot; i-- {
			if o.conflictsWith(&o.recent[i], t) {
				o.conflicts++
				o.leave(last)
				return 0, ErrConflict
			}
		}
	}
	r := record{keep: t.Keep, n: len(t.Writes)}
	if r.n == 1 {
		r.one = t.Writes[0]
	}
	return o.assignLocked(last, r, t.Writes, g)
}

// blindTries bounds how often a blind commit outside the section retries
// its compare-and-swap, lost to another's, before it queues for the section.
const blindTries = 8

// CommitBlind commits a transaction that wrote one key and read nothing; it
// cannot conflict, so only the guard can refuse it. With a Serial guard or
// none it takes its version outside the critical section (blind), unless
// the section is held or the ring of versions in flight is full: it
// records its write in its version's slot, where the section's next
// holder finds it before it validates anything or assigns a version.
func (o *Oracle) CommitBlind(w Write, keep any, g Guard) (uint64, error) {
	if sg, ok := g.(Serial); ok || g == nil {
		if v, err, ok := o.blind(w, keep, sg); ok {
			return v, err
		}
	}
	o.lock()
	return o.assignLocked(o.enter(), record{n: 1, one: w, keep: keep}, nil, g)
}

// blind tries to commit a blind write outside the section; ok reports
// whether it did (a refusal by g included). Ordered by sg's lock, a
// guard's commits take their versions in the order they are admitted;
// one that finds the lock held leaves the commit to the section.
// A version taken before a holder closed the gate is recorded before
// that holder goes on (enter waits for it), so the holder's guards see
// the effects of this Admit; one taken after the holder opened the gate
// again sees theirs (the swap reads next, stored after them).
func (o *Oracle) blind(w Write, keep any, sg Serial) (v uint64, err error, ok bool) {
	if sg != nil {
		if mu := sg.AdmitLock(); mu != nil {
			// Another writer of the run holds it: queue for the section
			// instead, whose lock polls and yields (lock.go), where a
			// mutex would park writers contending at every commit.
			if !mu.TryLock() {
				return 0, nil, false
			}
			defer mu.Unlock()
		}
	}
	for range blindTries {
		n := o.next.Load()
		if n >= o.limit.Load() { // the gate is closed, or the ring full
			return 0, nil, false
		}
		if !o.next.CompareAndSwap(n, n+1) {
			continue
		}
		v = n + 1
		s := &o.slots[v%ringSize]
		if sg != nil {
			if err = sg.Admit(v); err != nil {
				// The version is taken: publish it with no write.
				o.refused.Add(1)
				s.fp, s.key, s.keep = 0, nil, nil
				s.rec.Store(v)
				o.Done(v)
				return 0, err, true
			}
		}
		s.fp, s.key, s.keep = w.FP, w.Key, keep
		s.rec.Store(v)
		return v, nil, true
	}
	return 0, nil, false
}

// enter closes the gate, with o.mu held: no blind commit takes a version
// until leave. It waits for every version taken before to be recorded,
// moves into recent those a registered transaction may still validate
// against, and returns the last assigned version.
func (o *Oracle) enter() uint64 {
	n := o.next.Load()
	for !o.next.CompareAndSwap(n, n|gate) {
		n = o.next.Load()
	}
	o.absorb(n)
	return n
}

// absorb records in recent the blind commits up to version n taken
// outside the section. Those at or below the watermark are left in their
// slots: trimLocked would drop their records at once (no registered
// transaction can conflict with them), and they are visible, so recorded.
func (o *Oracle) absorb(n uint64) {
	if o.absorbed >= n {
		return
	}
	o.commits += n - o.absorbed
	o.outside += n - o.absorbed
	from := max(o.absorbed, min(o.Watermark(), n)) + 1
	for u := from; u <= n; u++ {
		s := &o.slots[u%ringSize]
		for spins := 0; s.rec.Load() != u; spins++ {
			if spins >= waitSpins {
				runtime.Gosched() // its committer was preempted before recording
			}
		}
		if s.key != nil {
			o.recent = append(o.recent, record{version: u, n: 1, one: Write{FP: s.fp, Key: s.key}, keep: s.keep})
		}
	}
	o.absorbed = n
}

// leave opens the gate with last the last assigned version, every one of
// which is absorbed, and releases o.mu.
func (o *Oracle) leave(last uint64) {
	o.absorbed = last
	o.setLimit()
	o.next.Store(last)
	o.mu.Unlock()
}

// setLimit moves limit to the last version whose slot is free: its last
// version is absorbed and visible. With o.mu held, or before o is shared.
// The visible version is read again only when the one seen last would
// leave blind commits less than half the ring: limit's line is read by
// every blind commit, and visible's written by every publication.
func (o *Oracle) setLimit() {
	if o.seen+ringSize/2 < o.absorbed {
		o.seen = o.visible()
	}
	if l := min(o.seen, o.absorbed) + ringSize - 1; l != o.limitSet {
		o.limitSet = l
		o.limit.Store(l)
	}
}

// assignLocked runs the guard, assigns the version after last and records
// the commit; ws are its writes when r holds more than one. It leaves the
// section.
func (o *Oracle) assignLocked(last uint64, r record, ws []Write, g Guard) (uint64, error) {
	v := last + 1
	if g != nil {
		if err := g.Admit(v); err != nil {
			o.leave(last)
			return 0, err
		}
	}
	// Never let more than ringSize versions be in flight: a slot is
	// reused only after visible has passed it.
	for v-o.seen >= ringSize {
		if o.seen = o.visible(); v-o.seen >= ringSize {
			runtime.Gosched()
		}
	}
	o.commits++
	r.version = v
	if len(o.recent) >= trimAt {
		o.trimLocked()
	}
	if r.n > 1 {
		// After the trim, which keeps only the writes of records already
		// in recent. Copied, so the committer's slice is its own again (it
		// is pooled with the transaction) and a commit allocates nothing.
		r.start = o.ring.push(ws)
	}
	o.recent = append(o.recent, r)
	o.leave(v)
	return v, nil
}

// Trim drops now the commit records every registered snapshot already
// includes, which commits otherwise drop in batches: what their Keep holds
// (an engine generation a reclaim retired) is then let go at once, not
// only after the next few hundred commits.
func (o *Oracle) Trim() {
	o.mu.Lock()
	last := o.enter()
	o.trimLocked()
	// The slots' writes are absorbed or needless, and no blind commit
	// writes a slot while the gate is closed.
	for i := range o.slots {
		s := &o.slots[i]
		s.key, s.keep = nil, nil
	}
	o.leave(last)
}

// trimLocked drops records at or below the watermark: every registered
// transaction's snapshot already includes them.
func (o *Oracle) trimLocked() {
	w := o.Watermark()
	i := 0
	for i < len(o.recent) && o.recent[i].version <= w {
		i++
	}
	if i == 0 {
		return
	}
	// The ring holds the kept records' writes from the oldest kept
	// multi-key record on; everything before that goes with the records.
	keepFrom := o.ring.tail
	for _, r := range o.recent[i:] {
		if r.n > 1 {
			keepFrom = r.start
			break
		}
	}
	o.ring.dropTo(keepFrom)
	n := copy(o.recent, o.recent[i:])
	clear(o.recent[n:])
	o.recent = o.recent[:n]
}

func (o *Oracle) conflictsWith(r *record, t *Txn) bool {
	if r.n == 1 {
		return writeConflicts(r.one, t)
	}
	for k := range r.n {
		if writeConflicts(o.ring.at(r.start+uint64(k)), t) {
			return true
		}
	}
	return false
}

func writeConflicts(w Write, t *Txn) bool {
	if _, found := slices.BinarySearch(t.Reads, w.FP); found {
		return true
	}
	for _, p := range t.Prefixes {
		if bytes.HasPrefix(w.Key, p) {
			return true
		}
	}
	return false
}

// Done marks version v applied and advances the visible version over every
// consecutive applied version.
//
// v is stored in its slot, and then, if it is one of the window versions
// above the visible one, set as a done bit in pub by one compare-and-swap
// that also moves the visible version over the run of done bits from its
// bottom: two writers publishing alternate versions then share pub's line
// alone, where reading each other's slots moved those lines between the
// cores too. A version further up, or one Done while slowFlag is set, is
// recorded in its slot alone (slow) and found there by advance.
func (o *Oracle) Done(v uint64) {
	o.slots[v%ringSize].done.Store(v)
	for {
		s := o.pub.Load()
		vis := s >> pubShift
		if vis >= v {
			return // an advance found it in its slot
		}
		d := v - vis
		if d > window || s&slowFlag != 0 {
			o.slow(v)
			return
		}
		b := s&pubBits | 1<<(d-1)
		k := uint64(bits.TrailingZeros64(^b))
		if o.pub.CompareAndSwap(s, (vis+k)<<pubShift|b>>k) {
			return
		}
	}
}

// slow publishes v, stored in its slot (done or held), where no done bit
// records it: it raises slowMax and sets slowFlag, so that every Done
// after it scans the slots (advance) until the visible version passes it,
// and advances. A Done that set its bit without seeing the flag did so
// before it was set, so this advance, which follows, sees that bit.
func (o *Oracle) slow(v uint64) {
	for {
		m := o.slowMax.Load()
		if m >= v || o.slowMax.CompareAndSwap(m, v) {
			break
		}
	}
	o.flag(v)
	o.advance()
}

// clearHook, if set (by tests), runs between advance's decision to clear
// slowFlag and its swap.
var clearHook func(*Oracle)

// flag sets slowFlag unless the visible version is at least v.
func (o *Oracle) flag(v uint64) {
	for {
		s := o.pub.Load()
		if s>>pubShift >= v || s&slowFlag != 0 || o.pub.CompareAndSwap(s, s|slowFlag) {
			return
		}
	}
}

// held marks a done slot whose version is applied but held (see Applied);
// versions never reach it.
const held = 1 << 63

// Applied marks version v applied but holds it: the visible version does
// not pass v until Release of v or of a later version. A commit that must
// not be seen before something outside the oracle happens (its fsync) is
// applied before it waits and released after: then the first of a group
// of such commits to be released makes the whole group visible, instead of
// each waiting for its predecessors' committers to be scheduled and
// publish in turn. Each version is either Done, or Applied and then
// Released, by its own committer, once.
func (o *Oracle) Applied(v uint64) {
	o.slots[v%ringSize].done.Store(v | held)
	o.slow(v)
}

// Release lets the visible version advance over every version up to v that
// Applied holds: the caller vouches for all of them, not only for its own
// (a Strict commit's fsync covers every version appended before it).
func (o *Oracle) Release(v uint64) {
	for {
		r := o.released.Load()
		if r >= v || o.released.CompareAndSwap(r, v) {
			break
		}
	}
	o.advance()
}

// advance moves the visible version over every consecutive version that is
// Done (a done bit, or its slot), or Applied and released. Applied and
// Release each store first and then read the other's store here (atomics
// are sequentially consistent), so of the two racing at least one sees
// both and advances. It clears slowFlag once the visible version reaches
// slowMax; a slow publication that raised slowMax meanwhile may have seen
// the flag still set and left, so it is set again for it.
func (o *Oracle) advance() {
	for {
		s := o.pub.Load()
		cur, b := s>>pubShift, s&pubBits
		to := cur
		for {
			nxt := to + 1
			if i := nxt - cur - 1; i < window && b&(1<<i) != 0 {
				to = nxt
				continue
			}
			if d := o.slots[nxt%ringSize].done.Load(); d != nxt && (d != nxt|held || nxt > o.released.Load()) {
				break
			}
			to = nxt
		}
		f := s & slowFlag
		if f != 0 && to >= o.slowMax.Load() {
			f = 0
			if clearHook != nil {
				clearHook(o)
			}
		}
		var nb uint64
		if k := to - cur; k < window {
			nb = b >> k
		}
		ns := to<<pubShift | f | nb
		if ns == s {
			return
		}
		if !o.pub.CompareAndSwap(s, ns) {
			continue
		}
		if f != 0 || o.slowMax.Load() <= to {
			return
		}
		o.flag(o.slowMax.Load())
	}
}

// waitSpins is how many times WaitVisible polls before yielding. Short on
// purpose: a committer waiting here waits for another to publish, which on
// few cores needs this one's CPU; polling 4096 times instead cut commits
// per fsync at 64 committers on 2 cores from 54 to 33 (when each Strict
// committer still published its own version after its fsync, in turn).
const waitSpins = 64

// WaitVisible returns once the visible version is at least v. Callers use it
// so that a commit is readable by the time it is acknowledged.
func (o *Oracle) WaitVisible(v uint64) {
	for spins := 0; o.visible() < v; spins++ {
		if spins >= waitSpins {
			runtime.Gosched()
		}
	}
}

// Ack lets the committer of v, Done, return before v is visible: v is
// recorded as acknowledged, and Visible and Begin wait for it. The wait
// moves from every writer to a reader that reads right behind writers: a
// commit is visible once every earlier one is, and with two writers the
// committer of each version otherwise waited for the other's, taken just
// before, to be linked. Its own writer reading next thus still reads its
// write. A version already visible is not recorded, nor one whose done bit
// pub holds (readers wait for the done bits once an oracle Acks), so
// acked is written only for a version Done far above the visible one or
// while slowFlag was set.
func (o *Oracle) Ack(v uint64) {
	if !o.acking.Load() {
		o.acking.Store(true)
	}
	s := o.pub.Load()
	vis := s >> pubShift
	if vis >= v {
		return
	}
	if d := v - vis; d <= window && s&(1<<(d-1)) != 0 {
		return // readers wait for its done bit
	}
	for {
		a := o.acked.Load()
		if a >= v || o.acked.CompareAndSwap(a, v) {
			return
		}
	}
}

// Last returns the last assigned commit version.
func (o *Oracle) Last() uint64 { return o.next.Load() &^ gate }

// Stats are the oracle's counters.
type Stats struct {
	Commits   uint64
	Conflicts uint64
	// Outside counts the commits that took their version outside the
	// critical section: blind writes under a Serial guard or none.
	Outside uint64
	Visible uint64
	Active  int // registered transactions
}

// Stats returns the oracle's counters.
func (o *Oracle) Stats() Stats {
	o.mu.Lock()
	last := o.enter()
	refused := o.refused.Load()
	s := Stats{Commits: o.commits - refused, Conflicts: o.conflicts, Outside: o.outside - refused}
	o.leave(last)
	s.Visible = o.Visible()
	s.Active = o.active.len()
	return s
}

// activeSet is the multiset of registered snapshots. Snapshots are taken
// under its lock from a monotonic counter, so they arrive in order and a
// deque of (snapshot, count) stays sorted.
type activeSet struct {
	mu    sync.Mutex
	items []activeItem // sorted by snap; items[head:] are live
	head  int
	n     int
}

type activeItem struct {
	snap  uint64
	count int
}

func (a *activeSet) add(pub *atomic.Uint64) uint64 {
	a.mu.Lock()
	s := pub.Load() >> pubShift
	if k := len(a.items); k > a.head && a.items[k-1].snap == s {
		a.items[k-1].count++
	} else {
		if a.head > 0 && a.head == len(a.items) {
			a.items, a.head = a.items[:0], 0
		}
		a.items = append(a.items, activeItem{snap: s, count: 1})
	}
	a.n++
	a.mu.Unlock()
	return s
}

func (a *activeSet) remove(s uint64) {
	a.mu.Lock()
	live := a.items[a.head:]
	i, found := slices.BinarySearchFunc(live, s, func(it activeItem, s uint64) int {
		switch {
		case it.snap < s:
			return -1
		case it.snap > s:
			return 1
		}
		return 0
	})
	if found && live[i].count > 0 {
		live[i].count--
		a.n--
		for a.head < len(a.items) && a.items[a.head].count == 0 {
			a.head++
		}
		if a.head == len(a.items) {
			a.items, a.head = a.items[:0], 0
		} else if a.head > 64 && a.head*2 > len(a.items) {
			k := copy(a.items, a.items[a.head:])
			a.items, a.head = a.items[:k], 0
		}
	}
	a.mu.Unlock()
}

// watermark returns the oldest registered snapshot, or the visible version
// (from pub) when none is registered. pub is read under the lock: a
// transaction registering afterwards reads it later and so gets a snapshot
// at least as new.
func (a *activeSet) watermark(pub *atomic.Uint64) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.head == len(a.items) {
		return pub.Load() >> pubShift
	}
	return a.items[a.head].snap
}

func (a *activeSet) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// Exclusive runs fn inside the commit critical section with the last
// assigned version: no commit is admitted while fn runs, so fn sees a clean
// cut between the commits at or below that version and those after it. fn
// must be short and do no I/O.
func (o *Oracle) Exclusive(fn func(last uint64)) {
	o.mu.Lock()
	last := o.enter()
	defer o.leave(last)
	fn(last)
}

// Adopt records version v as assigned elsewhere: a replica applies the
// commits a leader versioned, and its own last assigned version must not
// fall behind them.
func (o *Oracle) Adopt(v uint64) {
	o.mu.Lock()
	o.leave(max(o.enter(), v))
}

// Rewind makes to the last assigned version, forgetting the commits above
// it: versions a replica assigned to proposals that were never applied
// (its leadership ended first), so that its next commit takes the version
// after the last one applied. No version above to may be in flight or
// visible.
func (o *Oracle) Rewind(to uint64) {
	o.mu.Lock()
	o.enter()
	defer o.leave(to)
	o.seen = min(o.seen, to)
	i := len(o.recent)
	for i > 0 && o.recent[i-1].version > to {
		i--
	}
	clear(o.recent[i:])
	o.recent = o.recent[:i]
}

// Restart makes v the last assigned and the visible version at once: a
// replica that loaded a snapshot at v. Nothing may be in flight, and no
// transaction registered.
func (o *Oracle) Restart(v uint64) {
	o.mu.Lock()
	o.enter()
	defer o.leave(v)
	o.seen = v
	clear(o.recent)
	o.recent = o.recent[:0]
	o.released.Store(v)
	o.slowMax.Store(v)
	o.pub.Store(v << pubShift)
}
