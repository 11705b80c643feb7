package inmem_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inmem-db/inmem"
	"github.com/stretchr/testify/require"
)

const (
	bankAccounts = 100
	bankInitial  = 1000
	bankTotal    = bankAccounts * bankInitial
)

func bankKey(i int) string { return fmt.Sprintf("acct/%03d", i) }

func bankEncode(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func bankDecode(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("balance of %d bytes", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// TestBankInvariant moves money between accounts from many goroutines while
// readers check that every snapshot balances. Lost updates, read skew or a
// torn commit all show up as a wrong total.
func TestBankInvariant(t *testing.T) {
	db := memDB(t)
	run := freshRun(t, db)
	// Noise in other scopes must not disturb anything.
	other := freshRun(t, db)

	require.NoError(t, run.Update(func(tx *inmem.Tx) error {
		for i := range bankAccounts {
			if err := tx.KV().Put(bankKey(i), bankEncode(bankInitial)); err != nil {
				return err
			}
		}
		return nil
	}))
	// Keys that sort next to the accounts but are outside the prefix.
	require.NoError(t, run.KV().Put("acct", bankEncode(1<<40)))
	require.NoError(t, run.KV().Put("acct0", bankEncode(1<<40)))
	require.NoError(t, run.KV().Put("acc", bankEncode(1<<40)))

	duration := 2 * time.Second
	if testing.Short() {
		duration = 300 * time.Millisecond
	}
	deadline := time.Now().Add(duration)

	var (
		transfers  atomic.Int64
		gaveUp     atomic.Int64
		snapshots  atomic.Int64
		stop       atomic.Bool
		wg         sync.WaitGroup
		errMu      sync.Mutex
		firstError error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstError == nil {
			firstError = err
		}
		errMu.Unlock()
		stop.Store(true)
	}

	const movers = 8
	for g := range movers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for !stop.Load() && time.Now().Before(deadline) {
				from, to := rng.IntN(bankAccounts), rng.IntN(bankAccounts)
				if from == to {
					continue
				}
				amount := uint64(rng.IntN(50) + 1)
				moved := false
				err := run.Update(func(tx *inmem.Tx) error {
					moved = false
					fb, err := tx.KV().Get(bankKey(from))
					if err != nil {
						return err
					}
					tb, err := tx.KV().Get(bankKey(to))
					if err != nil {
						return err
					}
					f, err := bankDecode(fb)
					if err != nil {
						return err
					}
					tv, err := bankDecode(tb)
					if err != nil {
						return err
					}
					if f < amount {
						return nil // insufficient funds: no-op
					}
					if err := tx.KV().Put(bankKey(from), bankEncode(f-amount)); err != nil {
						return err
					}
					if err := tx.KV().Put(bankKey(to), bankEncode(tv+amount)); err != nil {
						return err
					}
					moved = true
					return nil
				})
				switch {
				case err == nil:
					if moved {
						transfers.Add(1)
					}
				case errors.Is(err, inmem.ErrConflict):
					gaveUp.Add(1) // Update ran out of attempts; nothing was written
				default:
					fail(fmt.Errorf("transfer: %w", err))
					return
				}
			}
		}()
	}

	// Readers: a View's List, its per-key Gets, and its Scan all add up.
	const readers = 2
	for g := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && time.Now().Before(deadline) {
				err := run.View(func(tx *inmem.Tx) error {
					es, err := tx.KV().List("acct/")
					if err != nil {
						return err
					}
					if len(es) != bankAccounts {
						return fmt.Errorf("listed %d accounts", len(es))
					}
					var sumList uint64
					for _, e := range es {
						n, err := bankDecode(e.Value)
						if err != nil {
							return err
						}
						sumList += n
					}
					var sumGet uint64
					for i := range bankAccounts {
						b, err := tx.KV().Get(bankKey(i))
						if err != nil {
							return err
						}
						n, err := bankDecode(b)
						if err != nil {
							return err
						}
						sumGet += n
					}
					var sumScan uint64
					var scanErr error
					if err := tx.KV().Scan("acct/", func(_ string, v []byte) bool {
						n, err := bankDecode(v)
						scanErr = err
						sumScan += n
						return err == nil
					}); err != nil {
						return err
					}
					if scanErr != nil {
						return scanErr
					}
					if sumList != bankTotal || sumGet != bankTotal || sumScan != bankTotal {
						return fmt.Errorf("snapshot totals: list %d, get %d, scan %d, want %d", sumList, sumGet, sumScan, bankTotal)
					}
					return nil
				})
				if err != nil {
					fail(fmt.Errorf("reader %d: %w", g, err))
					return
				}
				snapshots.Add(1)
			}
		}()
	}

	// A writer elsewhere keeps commits flowing through the same oracle.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load() && time.Now().Before(deadline); i++ {
			if err := other.KV().Put(bankKey(i%bankAccounts), bankEncode(uint64(i))); err != nil {
				fail(fmt.Errorf("noise: %w", err))
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()

	wg.Wait()
	require.NoError(t, firstError)

	es, err := run.KV().List("acct/")
	require.NoError(t, err)
	require.Len(t, es, bankAccounts)
	var sum uint64
	for _, e := range es {
		n, err := bankDecode(e.Value)
		require.NoError(t, err)
		sum += n
	}
	require.Equal(t, uint64(bankTotal), sum)
	require.Positive(t, transfers.Load(), "no transfer committed")
	require.Positive(t, snapshots.Load(), "no snapshot checked")

	info, err := run.Info()
	require.NoError(t, err)
	// Setup (1 + 3 one-op puts) plus one step per committed transfer.
	require.Equal(t, int(transfers.Load())+4, info.Steps)

	st := db.Stats()
	require.Zero(t, st.ActiveTxns)
	t.Logf("transfers %d, gave up %d, snapshots checked %d; db commits %d, conflicts %d, version %d",
		transfers.Load(), gaveUp.Load(), snapshots.Load(), st.Commits, st.Conflicts, st.Version)
}
