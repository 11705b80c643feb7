package inmem

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"github.com/zeebo/xxh3"
)

// A Jepsen-style test of a three-node cluster in one process. Clients put,
// read (after a Barrier) and compare-and-set a few keys, each write also
// appending an event naming it, while bank clients move money between
// accounts; meanwhile a seeded schedule of faults, one every 1-2 s, kills
// the leader and reopens it from its directory, isolates the leader or a
// follower, cuts one direction of a link, or slows one. After healing:
// porcupine must find the history linearizable, every acknowledged write's
// event must be on all three nodes, every node must hold the same version
// and the same state (per-primitive hashes of each run, and every key's
// newest entry), every run must replay with its event chain intact, and
// the bank's total must never have changed.
//
// INMEM_JEPSEN_SECONDS sets the length of a schedule (default 8) and
// INMEM_JEPSEN_SEEDS the seeds, as "1,2,3" or "1-50" (default "1").

func TestClusterJepsen(t *testing.T) {
	secs := 8
	if s := os.Getenv("INMEM_JEPSEN_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		secs = n
	}
	for _, seed := range jepsenSeeds(t, os.Getenv("INMEM_JEPSEN_SEEDS")) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runJepsen(t, seed, time.Duration(secs)*time.Second)
		})
	}
}

func jepsenSeeds(t *testing.T, spec string) []uint64 {
	if spec == "" {
		return []uint64{1}
	}
	var out []uint64
	for _, part := range strings.Split(spec, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		require.NoError(t, err)
		b := a
		if isRange {
			b, err = strconv.ParseUint(hi, 10, 64)
			require.NoError(t, err)
		}
		for s := a; s <= b; s++ {
			out = append(out, s)
		}
	}
	return out
}

// freeAddr returns a loopback address no one listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// jnode is one node of the test cluster; db is nil while it is down.
type jnode struct {
	id, addr, dir string
	db            atomic.Pointer[DB]
}

type jcluster struct {
	t     *testing.T
	fab   *fabric
	nodes []*jnode
	peers []Peer
}

func newJCluster(t *testing.T, n int) *jcluster {
	jc := &jcluster{t: t, fab: newFabric()}
	for i := range n {
		addr := freeAddr(t)
		id := fmt.Sprintf("n%d", i+1)
		jc.nodes = append(jc.nodes, &jnode{id: id, addr: addr, dir: t.TempDir()})
		jc.peers = append(jc.peers, Peer{ID: id, Addr: addr})
		jc.fab.register(id, addr)
	}
	for i := range jc.nodes {
		jc.open(i)
	}
	t.Cleanup(func() {
		for _, n := range jc.nodes {
			if db := n.db.Swap(nil); db != nil {
				db.Close()
			}
		}
	})
	return jc
}

func (jc *jcluster) open(i int) {
	n := jc.nodes[i]
	var db *DB
	var err error
	for range 50 { // the old listener's port may take a moment to free
		db, err = Open(n.dir,
			WithCluster(Cluster{NodeID: n.id, Addr: n.addr, Bootstrap: jc.peers, HeartbeatTimeout: 200 * time.Millisecond}),
			withClusterStream(jc.fab.stream(n.id)),
			WithLogger(slog.New(slog.DiscardHandler)))
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(jc.t, err)
	n.db.Store(db)
}

func (jc *jcluster) close(i int) {
	if db := jc.nodes[i].db.Swap(nil); db != nil {
		require.NoError(jc.t, db.Close())
	}
}

// leader returns the index of a node that leads and is writable, or -1.
func (jc *jcluster) leader() int {
	for i, n := range jc.nodes {
		if db := n.db.Load(); db != nil && db.cluster.writable.Load() {
			return i
		}
	}
	return -1
}

func (jc *jcluster) waitLeader() int {
	var l int
	require.Eventually(jc.t, func() bool { l = jc.leader(); return l >= 0 }, 30*time.Second, 10*time.Millisecond)
	return l
}

// isolate cuts node i off from every other, both ways.
func (jc *jcluster) isolate(i int) {
	for j, n := range jc.nodes {
		if j != i {
			jc.fab.cutLink(jc.nodes[i].id, n.id)
			jc.fab.cutLink(n.id, jc.nodes[i].id)
		}
	}
}

// The model: a register per key. An operation of unknown outcome returns
// at the end of the history; porcupine may then place it anywhere after
// its call, or after everything (as if it never happened).
type jOp struct {
	kind     byte // 'p' put, 'g' get, 'c' compare-and-set
	key      string
	val, old string
}

type jRes struct {
	val     string
	found   bool
	ok      bool // cas swapped
	unknown bool // the write's outcome is unknown
}

var jModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range h {
			k := op.Input.(jOp).key
			if _, ok := by[k]; !ok {
				order = append(order, k)
			}
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range order {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return "" }, // "" is absent: values are never empty
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(string), input.(jOp), output.(jRes)
		switch in.kind {
		case 'p':
			return true, in.val
		case 'g':
			return out.found == (st != "") && out.val == st, st
		}
		if st == in.old {
			return out.ok || out.unknown, in.val
		}
		return !out.ok || out.unknown, st
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(jOp), output.(jRes)
		switch in.kind {
		case 'p':
			return fmt.Sprintf("put(%s, %s) unknown=%v", in.key, in.val, out.unknown)
		case 'g':
			return fmt.Sprintf("get(%s) -> %q", in.key, out.val)
		}
		return fmt.Sprintf("cas(%s, %s -> %s) -> %v unknown=%v", in.key, in.old, in.val, out.ok, out.unknown)
	},
}

// jepsen is one schedule's shared state.
type jepsen struct {
	t     *testing.T
	jc    *jcluster
	start time.Time
	run   RunID // the register clients' run
	bank  RunID

	mu      sync.Mutex
	ops     []porcupine.Operation
	acked   map[string]bool // event payloads of acknowledged writes
	unknown int
}

const (
	jAccounts = 5
	jBalance  = 100
)

func (j *jepsen) now() int64 { return time.Since(j.start).Nanoseconds() }

// node returns the database a client talks to: its preferred node if that
// is up, else any that is.
func (j *jepsen) node(pref *int, r *rand.Rand) (*DB, int) {
	for range 2 * len(j.jc.nodes) {
		if db := j.jc.nodes[*pref].db.Load(); db != nil {
			return db, *pref
		}
		*pref = r.IntN(len(j.jc.nodes))
	}
	return nil, -1
}

// follow moves a client to the leader a refusal named.
func (j *jepsen) follow(err error, pref *int, r *rand.Rand) {
	var nl *NotLeaderError
	if errors.As(err, &nl) {
		for i, n := range j.jc.nodes {
			if n.id == nl.LeaderID {
				*pref = i
				return
			}
		}
	}
	*pref = r.IntN(len(j.jc.nodes))
}

// errNoBarrier marks an operation that stopped at its barrier, whatever
// the reason (not the leader, or raft busier than its enqueue timeout on a
// loaded machine): it read and wrote nothing.
var errNoBarrier = errors.New("no barrier")

// noEffect reports whether err says the operation certainly changed
// nothing: refused by a follower, or by a node closing before its commit
// was handed to raft, or stopped at its barrier.
func noEffect(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, ErrClosed) || errors.Is(err, ErrConflict) || errors.Is(err, errNoBarrier)
}

func (j *jepsen) client(c int, seed uint64, stop <-chan struct{}) {
	r := rand.New(rand.NewPCG(seed, uint64(c)+100))
	keys := []string{"a", "b", "c"}
	pref := c % len(j.jc.nodes)
	seen := map[string]string{}
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		db, _ := j.node(&pref, r)
		if db == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		in := jOp{key: keys[r.IntN(len(keys))]}
		tag := fmt.Sprintf("%d.%d.%d", seed, c, n)
		switch x := r.IntN(10); {
		case x < 4:
			in.kind = 'g'
		case x < 7:
			in.kind, in.val = 'p', tag
		default:
			in.kind, in.val, in.old = 'c', tag, seen[in.key]
		}
		call := j.now()
		out, err := j.do(db, in, tag)
		switch {
		case err == nil:
		case noEffect(err) || errors.Is(err, ErrRunNotFound):
			j.follow(err, &pref, r)
			continue
		case errors.Is(err, ErrUnknownOutcome):
			out = jRes{unknown: true}
			j.follow(err, &pref, r)
		default:
			j.t.Errorf("client %d: %v", c, err)
			return
		}
		ret := j.now()
		if out.unknown {
			ret = math.MaxInt64
		}
		j.mu.Lock()
		j.ops = append(j.ops, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
		if out.unknown {
			j.unknown++
		} else if in.kind == 'p' || out.ok {
			j.acked[tag] = true
		}
		j.mu.Unlock()
		switch {
		case out.unknown:
			delete(seen, in.key)
		case in.kind == 'p' || out.ok:
			seen[in.key] = in.val
		case in.kind == 'g':
			seen[in.key] = out.val
		}
	}
}

// do runs one operation on db. A write commits its KV put and an event
// naming it together.
func (j *jepsen) do(db *DB, in jOp, tag string) (jRes, error) {
	run, err := db.Run(j.run)
	if err != nil {
		return jRes{}, err
	}
	if in.kind != 'p' {
		// A read is linearizable after a barrier; so is a compare-and-set
		// that reads a different value and writes nothing (one that
		// writes is checked against every commit after its snapshot).
		if err := db.Cluster().Barrier(); err != nil {
			return jRes{}, fmt.Errorf("%w: %w", errNoBarrier, err)
		}
	}
	if in.kind == 'g' {
		v, err := run.KV().Get(in.key)
		if errors.Is(err, ErrNotFound) {
			return jRes{}, nil
		}
		return jRes{val: string(v), found: err == nil}, err
	}
	var out jRes
	err = run.Update(func(tx *Tx) error {
		out = jRes{}
		if in.kind == 'c' {
			v, err := tx.KV().Get(in.key)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if string(v) != in.old {
				return nil
			}
			out.ok = true
		}
		if err := tx.KV().Put(in.key, []byte(in.val)); err != nil {
			return err
		}
		_, err := tx.Events().Append("write", []byte(tag))
		return err
	})
	return out, err
}

// banker moves money between accounts of the bank run.
func (j *jepsen) banker(c int, seed uint64, stop <-chan struct{}) {
	r := rand.New(rand.NewPCG(seed, uint64(c)+200))
	pref := c % len(j.jc.nodes)
	for {
		select {
		case <-stop:
			return
		default:
		}
		db, _ := j.node(&pref, r)
		if db == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		run, err := db.Run(j.bank)
		if err != nil {
			j.follow(err, &pref, r)
			continue
		}
		from, to := r.IntN(jAccounts), r.IntN(jAccounts)
		amount := 1 + r.IntN(20)
		err = run.Update(func(tx *Tx) error {
			a, err := jBalanceOf(tx.KV(), from)
			if err != nil {
				return err
			}
			b, err := jBalanceOf(tx.KV(), to)
			if err != nil {
				return err
			}
			if from == to || a < amount {
				return nil
			}
			if err := tx.KV().Put(jAccount(from), []byte(strconv.Itoa(a-amount))); err != nil {
				return err
			}
			return tx.KV().Put(jAccount(to), []byte(strconv.Itoa(b+amount)))
		})
		switch {
		case err == nil, errors.Is(err, ErrUnknownOutcome):
		case noEffect(err):
			j.follow(err, &pref, r)
		default:
			j.t.Errorf("banker %d: %v", c, err)
			return
		}
	}
}

func jAccount(i int) string { return fmt.Sprintf("acct%d", i) }

func jBalanceOf(kv *KV, i int) (int, error) {
	v, err := kv.Get(jAccount(i))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

// bankTotal reads every account of db in one snapshot.
func (j *jepsen) bankTotal(db *DB) (int, error) {
	run, err := db.Run(j.bank)
	if err != nil {
		return 0, err
	}
	total := 0
	err = run.View(func(tx *Tx) error {
		total = 0
		for i := range jAccounts {
			b, err := jBalanceOf(tx.KV(), i)
			if err != nil {
				return err
			}
			total += b
		}
		return nil
	})
	return total, err
}

// auditor checks the bank's total on any node, at any time.
func (j *jepsen) auditor(seed uint64, stop <-chan struct{}) {
	r := rand.New(rand.NewPCG(seed, 300))
	for {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		db := j.jc.nodes[r.IntN(len(j.jc.nodes))].db.Load()
		if db == nil {
			continue
		}
		total, err := j.bankTotal(db)
		if errors.Is(err, ErrClosed) || errors.Is(err, ErrRunNotFound) {
			continue // closed under the read; or a node not caught up to the bank's start
		}
		if err != nil {
			j.t.Errorf("auditor: %v", err)
			return
		}
		if total != jAccounts*jBalance {
			j.t.Errorf("auditor: the bank holds %d on one node", total)
			return
		}
	}
}

// nemesis runs the seeded schedule of faults until stop.
func (j *jepsen) nemesis(seed uint64, d time.Duration) {
	r := rand.New(rand.NewPCG(seed, 400))
	jc := j.jc
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		time.Sleep(time.Duration(1000+r.IntN(1000)) * time.Millisecond)
		jc.fab.heal()
		l := jc.leader()
		others := []int{}
		for i := range jc.nodes {
			if i != l {
				others = append(others, i)
			}
		}
		switch x := r.IntN(6); {
		case x == 0 && l >= 0:
			j.t.Logf("%6.2fs kill the leader %s and reopen it", time.Since(j.start).Seconds(), jc.nodes[l].id)
			jc.close(l)
			time.Sleep(time.Duration(100+r.IntN(700)) * time.Millisecond)
			jc.open(l)
		case x == 1 && l >= 0:
			j.t.Logf("%6.2fs isolate the leader %s", time.Since(j.start).Seconds(), jc.nodes[l].id)
			jc.isolate(l)
		case x == 2:
			f := others[r.IntN(len(others))]
			j.t.Logf("%6.2fs isolate %s", time.Since(j.start).Seconds(), jc.nodes[f].id)
			jc.isolate(f)
		case x == 3:
			a := r.IntN(len(jc.nodes))
			b := (a + 1 + r.IntN(len(jc.nodes)-1)) % len(jc.nodes)
			j.t.Logf("%6.2fs drop %s -> %s", time.Since(j.start).Seconds(), jc.nodes[a].id, jc.nodes[b].id)
			jc.fab.cutLink(jc.nodes[a].id, jc.nodes[b].id)
		case x == 4:
			a := r.IntN(len(jc.nodes))
			b := (a + 1 + r.IntN(len(jc.nodes)-1)) % len(jc.nodes)
			dl := time.Duration(5+r.IntN(80)) * time.Millisecond
			j.t.Logf("%6.2fs slow %s -> %s by %v", time.Since(j.start).Seconds(), jc.nodes[a].id, jc.nodes[b].id, dl)
			jc.fab.slow(jc.nodes[a].id, jc.nodes[b].id, dl)
		default:
			j.t.Logf("%6.2fs healed", time.Since(j.start).Seconds())
		}
	}
	jc.fab.heal()
}

func runJepsen(t *testing.T, seed uint64, d time.Duration) {
	t.Logf("seed %d, %v of faults", seed, d)
	jc := newJCluster(t, 3)
	j := &jepsen{t: t, jc: jc, start: time.Now(), acked: map[string]bool{}}
	l := jc.waitLeader()
	ldb := jc.nodes[l].db.Load()
	run, err := ldb.BeginRun(Name("registers"))
	require.NoError(t, err)
	j.run = run.ID()
	bank, err := ldb.BeginRun(Name("bank"))
	require.NoError(t, err)
	j.bank = bank.ID()
	require.NoError(t, bank.Update(func(tx *Tx) error {
		for i := range jAccounts {
			if err := tx.KV().Put(jAccount(i), []byte(strconv.Itoa(jBalance))); err != nil {
				return err
			}
		}
		return nil
	}))
	v := ldb.Stats().Version
	for _, n := range jc.nodes {
		require.NoError(t, n.db.Load().Cluster().WaitApplied(v, 10*time.Second))
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 5 {
		wg.Go(func() { j.client(c, seed, stop) })
	}
	for c := range 2 {
		wg.Go(func() { j.banker(c, seed, stop) })
	}
	wg.Go(func() { j.auditor(seed, stop) })
	j.nemesis(seed, d)
	time.Sleep(500 * time.Millisecond) // some operations on the healed cluster
	close(stop)
	wg.Wait()

	// Converge: the leader's barrier, then every node at its version.
	l = jc.waitLeader()
	ldb = jc.nodes[l].db.Load()
	require.NoError(t, ldb.Cluster().Barrier())
	final := ldb.store.Oracle.Visible()
	for _, n := range jc.nodes {
		require.NoError(t, n.db.Load().Cluster().WaitApplied(final, 30*time.Second), n.id)
	}
	t.Logf("%d operations (%d of unknown outcome, %d acknowledged writes), final version %d",
		len(j.ops), j.unknown, len(j.acked), final)

	res, info := porcupine.CheckOperationsVerbose(jModel, j.ops, 2*time.Minute)
	if res != porcupine.Ok {
		f, err := os.CreateTemp("", "jepsen-*.html")
		if err == nil {
			_ = porcupine.Visualize(jModel, info, f)
			f.Close()
			t.Logf("porcupine's visualization: %s", f.Name())
		}
	}
	if res != porcupine.Ok {
		jExplain(t, j.ops)
	}
	require.Equal(t, porcupine.Ok, res, "seed %d: the history is not linearizable", seed)

	var want []byte
	for _, n := range jc.nodes {
		db := n.db.Load()
		require.Equal(t, final, db.store.Oracle.Visible(), "%s's version", n.id)
		// Every acknowledged write's event is here, and the chain holds.
		r, err := db.Run(j.run)
		require.NoError(t, err)
		evs, err := r.Events().Range(0, math.MaxUint64)
		require.NoError(t, err)
		have := map[string]bool{}
		for _, e := range evs {
			have[string(e.Payload)] = true
		}
		for tag := range j.acked {
			require.True(t, have[tag], "%s misses the acknowledged write %s", n.id, tag)
		}
		total, err := j.bankTotal(db)
		require.NoError(t, err)
		require.Equal(t, jAccounts*jBalance, total, "%s's bank", n.id)
		state := jStateOf(t, db, final)
		if want == nil {
			want = state
		}
		require.Equal(t, want, state, "%s's state differs from %s's", n.id, jc.nodes[0].id)
	}
}

// jStateOf describes db's state at version at: each run's replay report and
// per-primitive hashes, and a hash of every key's newest entry (its
// version and value) at or below at.
func jStateOf(t *testing.T, db *DB, at uint64) []byte {
	infos, err := db.Runs().List(RunQuery{})
	require.NoError(t, err)
	var b bytes.Buffer
	for _, info := range infos {
		rep, err := db.Replay(info.ID)
		require.NoError(t, err)
		require.True(t, rep.Match, "run %s does not replay: %s", info.ID, rep.Reason)
		r, err := db.Run(info.ID)
		require.NoError(t, err)
		h, err := db.liveHashes(r, at)
		require.NoError(t, err)
		js, _ := json.Marshal(struct {
			ID     RunID
			Steps  int
			Status RunStatus
			Hashes [elemCount]uint64
		}{info.ID, rep.Steps, info.Status, h})
		b.Write(js)
	}
	hs := xxh3.New()
	it := db.store.Current().List.Iter()
	var last []byte
	for it.First(); it.Valid(); it.Next() {
		if it.Version() > at || bytes.Equal(it.Key(), last) {
			continue // newer than at, or an older version of the key
		}
		last = append(last[:0], it.Key()...)
		hs.Write(it.Key())
		hs.Write(binary.LittleEndian.AppendUint64(nil, it.Version()))
		hs.Write(it.Value())
	}
	fmt.Fprintf(&b, "|entries %x", hs.Sum64())
	return b.Bytes()
}

var _ = raft.Leader

// jExplain logs the shortest prefix (by call time) of one key's history
// that porcupine finds illegal, from a little before its last call.
func jExplain(t *testing.T, ops []porcupine.Operation) {
	by := map[string][]porcupine.Operation{}
	for _, op := range ops {
		k := op.Input.(jOp).key
		by[k] = append(by[k], op)
	}
	for k, kops := range by {
		if porcupine.CheckOperations(jModel, kops) {
			continue
		}
		slices.SortFunc(kops, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		lo, hi := 1, len(kops) // illegal at hi
		for lo < hi {
			m := (lo + hi) / 2
			if porcupine.CheckOperations(jModel, kops[:m]) {
				lo = m + 1
			} else {
				hi = m
			}
		}
		end := kops[hi-1].Call
		t.Logf("key %s: illegal once the operation called at %.6fs is in", k, float64(end)/1e9)
		for _, op := range kops[:hi] {
			if op.Call >= end-int64(30*time.Millisecond) || (op.Return >= end-int64(30*time.Millisecond) && op.Return != math.MaxInt64) {
				t.Logf("  client %d [%.6f, %.6f] %s", op.ClientId, float64(op.Call)/1e9, float64(op.Return)/1e9, jModel.DescribeOperation(op.Input, op.Output))
			}
		}
		return
	}
}
