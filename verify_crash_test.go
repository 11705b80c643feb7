package inmem

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/stretchr/testify/require"
)

const verifyCrashDir = "/vdb"

// verifyCrashWorkload commits to a run and to a shared scope, checkpoints
// every 6 commits and reopens the database halfway, with small WAL
// segments, so a crash can hit a commit, a segment roll, a segment being
// prepared ahead, a snapshot write, a retire or a recovery. It stops at
// the first error (the crash) and returns it.
func verifyCrashWorkload(fs vfs.FS) error {
	opts := []Option{withFS(fs), WithDurability(Batched(time.Hour, 4)), withSegmentSize(512)}
	var id RunID
	for session := 0; session < 2; session++ {
		db, err := Open(verifyCrashDir, opts...)
		if err != nil {
			return err
		}
		var run *Run
		if session == 0 {
			run, err = db.BeginRun(Name("r"))
			if err == nil {
				id = run.ID()
			}
		} else {
			run, err = db.Run(id)
		}
		for k := 0; err == nil && k < 20; k++ {
			key := fmt.Sprintf("k%d-%02d", session, k)
			if k%3 == 0 {
				err = db.Shared(Namespace{Tenant: "t"}).KV().Put(key, []byte("shared"))
			} else {
				err = run.Update(func(tx *Tx) error { return tx.KV().Put(key, []byte("run")) })
			}
			if err == nil && k%6 == 5 {
				err = db.Checkpoint()
			}
		}
		if cerr := db.Close(); err != nil || cerr != nil {
			return errors.Join(err, cerr)
		}
	}
	return nil
}

// TestVerifyFilesAfterPowerLoss: what a power loss at any point of the
// workload leaves on disk has no problem for VerifyFiles, at most notes
// (a torn tail, a half-written snapshot) that Open repairs; once the
// database was recovered, written to and closed, not even those. So the
// checks report damage, not the states a crash legitimately leaves.
func TestVerifyFilesAfterPowerLoss(t *testing.T) {
	count := vfs.NewMemFS(1)
	require.NoError(t, verifyCrashWorkload(count))
	total := count.Ops()
	require.Greater(t, total, 100)
	notes := 0
	for k := 1; k <= total; k++ {
		rng := rand.New(rand.NewSource(int64(k)))
		mem := vfs.NewMemFS(rng.Int63())
		mem.TornWrites = true
		mem.SetKeepUnsynced(rng.Float64())
		mem.CrashAfter(k)
		_ = verifyCrashWorkload(mem) // the crash, or none if this run took fewer ops
		disk := mem.CrashClone()

		r, err := verifyFiles(disk, verifyCrashDir)
		if err != nil {
			// A crash before the directories existed leaves no database.
			require.ErrorIs(t, err, ErrNotFound, "crash at op %d", k)
			continue
		}
		require.Empty(t, problemsOf(r), "crash at op %d", k)
		notes += len(r.Notes)

		db, err := Open(verifyCrashDir, withFS(disk))
		require.NoError(t, err, "crash at op %d", k)
		require.NoError(t, db.Shared(Namespace{Tenant: "t"}).KV().Put("after", nil))
		require.NoError(t, db.Close())
		r, err = verifyFiles(disk, verifyCrashDir)
		require.NoError(t, err)
		require.True(t, r.OK(), "crash at op %d, after recovery: %v", k, problemsOf(r))
		require.Empty(t, r.Notes, "crash at op %d, after recovery", k)
	}
	require.Positive(t, notes, "some crashes leave a torn tail or a half-written snapshot")
}
