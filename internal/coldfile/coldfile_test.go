package coldfile

import (
	"bytes"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/internal/errs"
	"github.com/inmem-db/inmem/internal/vfs"
)

// modelEntry is one entry of the model a file is checked against.
type modelEntry struct {
	key     string
	version uint64
	value   []byte
}

// randomEntries draws n keys under a few scope-like prefixes, each with one
// to four versions, values of 0 to 3000 bytes (a few much larger), in the
// skiplist's order.
func randomEntries(rng *rand.Rand, n int) []modelEntry {
	var out []modelEntry
	seen := map[string]bool{}
	for len(seen) < n {
		k := fmt.Sprintf("tenant\x00\x01app\x00\x01run-%02d/%s/%06d", rng.Intn(4), []string{"kv", "ev", "sp"}[rng.Intn(3)], rng.Intn(1_000_000))
		if seen[k] {
			continue
		}
		seen[k] = true
		versions := map[uint64]bool{}
		for range 1 + rng.Intn(4) {
			versions[uint64(1+rng.Intn(10_000))] = true
		}
		for v := range versions {
			size := rng.Intn(3000)
			if rng.Intn(50) == 0 {
				size = 100_000 + rng.Intn(100_000)
			}
			val := make([]byte, size)
			for i := range val {
				val[i] = "abcdefgh {}\":,0123"[rng.Intn(18)]
			}
			out = append(out, modelEntry{k, v, val})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return compare([]byte(out[i].key), out[i].version, []byte(out[j].key), out[j].version) < 0
	})
	return out
}

// writeFile writes es to path on fs, in blocks of about blockSize bytes
// (0: BlockSize), and returns its size.
func writeFile(t testing.TB, fs vfs.FS, path string, codec Codec, es []modelEntry, blockSize int) int64 {
	t.Helper()
	w, err := Create(fs, path, codec)
	require.NoError(t, err)
	if blockSize > 0 {
		w.blockSize = blockSize
	}
	for _, e := range es {
		require.NoError(t, w.Add([]byte(e.key), e.version, e.value))
	}
	size, err := w.Finish()
	require.NoError(t, err)
	return size
}

// modelGet is the skiplist's Get over the model.
func modelGet(es []modelEntry, key string, snapshot uint64) (modelEntry, bool) {
	for _, e := range es {
		if e.key == key && e.version <= snapshot {
			return e, true
		}
	}
	return modelEntry{}, false
}

// mapCache is a BlockCache for tests.
type mapCache struct {
	m          map[uint64]*Block
	hits, sets int
}

func (c *mapCache) Get(k uint64) (*Block, bool) {
	b, ok := c.m[k]
	if ok {
		c.hits++
	}
	return b, ok
}

func (c *mapCache) Set(k uint64, b *Block) { c.m[k] = b; c.sets++ }

func (c *mapCache) Hit(uint64) { c.hits++ }

// TestRoundTrip: whatever the codec, a file gives back exactly the model:
// Get at snapshots below, between and above each key's versions, a full
// iteration, SeekGE, and Verify passes.
func TestRoundTrip(t *testing.T) {
	for _, codec := range []Codec{CodecNone, CodecS2, CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(codec) + 1))
			es := randomEntries(rng, 800)
			fs := vfs.NewMemFS(1)
			require.NoError(t, fs.MkdirAll("cold"))
			size := writeFile(t, fs, "cold/1.cold", codec, es, 0)
			cache := &mapCache{m: map[uint64]*Block{}}
			r, err := Open(fs, "cold/1.cold", 7, cache)
			require.NoError(t, err)
			defer r.Close()
			require.Equal(t, size, r.Size())
			require.EqualValues(t, len(es), r.Entries())
			require.Greater(t, r.Blocks(), 10)
			require.NoError(t, r.Verify())

			for i, e := range es {
				for _, snap := range []uint64{e.version - 1, e.version, e.version + 1, 1 << 40} {
					want, wok := modelGet(es, e.key, snap)
					val, ver, ok, err := r.Get([]byte(e.key), snap)
					require.NoError(t, err)
					require.Equal(t, wok, ok, "entry %d at %d", i, snap)
					if ok {
						require.Equal(t, want.version, ver)
						require.True(t, bytes.Equal(want.value, val), "entry %d at %d", i, snap)
					}
				}
			}
			_, _, ok, err := r.Get([]byte("zzz"), 1<<40)
			require.NoError(t, err)
			require.False(t, ok)
			_, _, ok, err = r.Get([]byte("a"), 1<<40)
			require.NoError(t, err)
			require.False(t, ok)
			require.Positive(t, cache.hits, "blocks come back from the cache")

			it := r.Iter()
			n := 0
			for it.First(); it.Valid(); it.Next() {
				require.Equal(t, es[n].key, string(it.Key()))
				require.Equal(t, es[n].version, it.Version())
				require.True(t, bytes.Equal(es[n].value, it.Value()))
				n++
			}
			require.NoError(t, it.Err())
			require.Equal(t, len(es), n)

			for range 200 {
				i := rng.Intn(len(es))
				it.SeekGE([]byte(es[i].key), es[i].version)
				require.True(t, it.Valid())
				require.Equal(t, es[i].key, string(it.Key()))
				require.Equal(t, es[i].version, it.Version())
			}
			it.SeekGE([]byte("zzz"), 0)
			require.False(t, it.Valid())
			require.NoError(t, it.Err())
		})
	}
}

// TestWriterRefusesBadInput: out of order, a repeated (key, version), an
// unknown codec and use after Finish are refused; a refused Add leaves the
// file writable.
func TestWriterRefusesBadInput(t *testing.T) {
	fs := vfs.NewMemFS(1)
	_, err := Create(fs, "x.cold", Codec(9))
	require.ErrorIs(t, err, errs.ErrInvalidArgument)
	w, err := Create(fs, "x.cold", CodecS2)
	require.NoError(t, err)
	require.NoError(t, w.Add([]byte("b"), 5, []byte("v")))
	require.ErrorIs(t, w.Add([]byte("a"), 9, nil), errs.ErrInvalidArgument)
	require.ErrorIs(t, w.Add([]byte("b"), 5, nil), errs.ErrInvalidArgument)
	require.ErrorIs(t, w.Add([]byte("b"), 6, nil), errs.ErrInvalidArgument, "versions descend")
	require.NoError(t, w.Add([]byte("b"), 4, []byte("older")))
	_, err = w.Finish()
	require.NoError(t, err)
	require.ErrorIs(t, w.Add([]byte("c"), 1, nil), errs.ErrInvalidArgument)
	_, err = w.Finish()
	require.ErrorIs(t, err, errs.ErrInvalidArgument)
	names, err := fs.List(".")
	require.NoError(t, err)
	require.Equal(t, []string{"x.cold"}, names)

	w, err = Create(fs, "y.cold", CodecS2)
	require.NoError(t, err)
	require.NoError(t, w.Add([]byte("a"), 1, nil))
	require.NoError(t, w.Abort())
	names, err = fs.List(".")
	require.NoError(t, err)
	require.Equal(t, []string{"x.cold"}, names, "an aborted file leaves nothing")
}

// TestCorruptionMatrix: a bit flipped in any byte of a small file is
// found. Open fails, or every read returns the right data or an error
// wrapping ErrCorruption that names the file, and Verify fails. Never a
// panic, never wrong data.
func TestCorruptionMatrix(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	es := randomEntries(rng, 12)
	require.Greater(t, len(es), 12, "keys with several versions")
	for i := range es {
		es[i].value = es[i].value[:min(len(es[i].value), 120)]
	}
	fs := vfs.NewMemFS(1)
	size := writeFile(t, fs, "c.cold", CodecS2, es, 256) // several blocks, so the index has entries to damage
	good := readAll(t, fs, "c.cold")
	require.EqualValues(t, size, len(good))
	r, err := Open(fs, "c.cold", 1, nil)
	require.NoError(t, err)
	require.GreaterOrEqual(t, r.Blocks(), 3)
	require.NoError(t, r.Close())
	for off := range good {
		bad := bytes.Clone(good)
		bad[off] ^= 1 << (off % 8)
		bfs := vfs.NewMemFS(1)
		writeRaw(t, bfs, "c.cold", bad)
		r, err := Open(bfs, "c.cold", 1, nil)
		if err != nil {
			require.ErrorIs(t, err, errs.ErrCorruption, "offset %d", off)
			require.Contains(t, err.Error(), "c.cold")
			continue
		}
		for _, e := range es {
			val, ver, ok, err := r.Get([]byte(e.key), e.version)
			if err != nil {
				require.ErrorIs(t, err, errs.ErrCorruption, "offset %d", off)
				require.Contains(t, err.Error(), "c.cold")
				continue
			}
			require.True(t, ok, "offset %d: %q@%d lost", off, e.key, e.version)
			require.Equal(t, e.version, ver)
			require.True(t, bytes.Equal(e.value, val), "offset %d: wrong value", off)
		}
		require.ErrorIs(t, r.Verify(), errs.ErrCorruption, "offset %d", off)
		r.Close()
	}
}

// TestPowerLossWhileWriting: a crash at any operation of writing a file
// leaves either no file under its name or the whole file; a temporary
// file may be left for the caller to remove.
func TestPowerLossWhileWriting(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	es := randomEntries(rng, 60)
	count := vfs.NewMemFS(1)
	require.NoError(t, count.MkdirAll("cold"))
	before := count.Ops()
	writeFile(t, count, "cold/f.cold", CodecZstd, es, 0)
	ops := count.Ops() - before
	require.Positive(t, ops)
	for n := 0; n <= ops; n++ {
		fs := vfs.NewMemFS(int64(n))
		require.NoError(t, fs.MkdirAll("cold"))
		fs.CrashAfter(n)
		err := tryWrite(fs, "cold/f.cold", CodecZstd, es)
		after := fs.CrashClone()
		r, oerr := Open(after, "cold/f.cold", 1, nil)
		if oerr != nil {
			require.NotNil(t, err, "crash after %d ops: Finish succeeded but the file is not there: %v", n, oerr)
			continue
		}
		require.NoError(t, r.Verify(), "crash after %d ops", n)
		require.EqualValues(t, len(es), r.Entries())
		r.Close()
	}
}

// tryWrite writes es to path as a writer's user would, on a filesystem
// that may fail or crash: the first error ends it (and aborts the file).
func tryWrite(fs vfs.FS, path string, codec Codec, es []modelEntry) error {
	w, err := Create(fs, path, codec)
	if err != nil {
		return err
	}
	for _, e := range es {
		if err := w.Add([]byte(e.key), e.version, e.value); err != nil {
			_ = w.Abort()
			return err
		}
	}
	_, err = w.Finish()
	return err
}

func readAll(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	require.NoError(t, err)
	defer f.Close()
	size, err := f.Size()
	require.NoError(t, err)
	b := make([]byte, size)
	_, err = f.ReadAt(b, 0)
	require.NoError(t, err)
	return b
}

func writeRaw(t testing.TB, fs vfs.FS, path string, b []byte) {
	t.Helper()
	f, err := fs.Create(path)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// TestWriteFailures: an I/O error at any operation of writing a file is
// returned (never a silent success), and the file is not reported written.
func TestWriteFailures(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	es := randomEntries(rng, 40)
	count := vfs.NewMemFS(1)
	before := count.Ops()
	writeFile(t, count, "f.cold", CodecS2, es, 0)
	ops := count.Ops() - before
	for n := 1; n <= ops; n++ {
		fs := vfs.NewMemFS(1)
		fs.FailAfter(n, nil)
		err := tryWrite(fs, "f.cold", CodecS2, es)
		require.ErrorIs(t, err, vfs.ErrInjected, "failure at operation %d", n)
		require.Contains(t, err.Error(), "f.cold")
	}
}

// TestSpan: the blocks Span returns for a prefix hold every entry with it,
// so GetIn over them answers as Get does, for keys of the prefix, keys
// between its entries and snapshots around their versions; a prefix
// before, between or after everything spans no entry of it; bad bounds
// are refused.
func TestSpan(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	es := randomEntries(rng, 600)
	fs := vfs.NewMemFS(1)
	require.NoError(t, fs.MkdirAll("cold"))
	writeFile(t, fs, "cold/1.cold", CodecZstd, es, 4<<10) // many small blocks
	r, err := Open(fs, "cold/1.cold", 1, nil)
	require.NoError(t, err)
	defer r.Close()
	for run := range 4 {
		prefix := []byte(fmt.Sprintf("tenant\x00\x01app\x00\x01run-%02d/", run))
		lo, hi := r.Span(prefix)
		require.Less(t, lo, hi)
		require.Less(t, hi-lo, r.Blocks(), "a prefix spans part of the file")
		for _, e := range es {
			if !bytes.HasPrefix([]byte(e.key), prefix) {
				continue
			}
			for _, key := range []string{e.key, e.key + "0"} {
				for _, snap := range []uint64{e.version - 1, e.version, 1 << 40} {
					wv, wver, wok, werr := r.Get([]byte(key), snap)
					v, ver, ok, err := r.GetIn(lo, hi, []byte(key), snap)
					require.NoError(t, werr)
					require.NoError(t, err)
					require.Equal(t, wok, ok, "%q at %d", key, snap)
					require.Equal(t, wver, ver)
					require.True(t, bytes.Equal(wv, v))
				}
			}
		}
	}
	for _, p := range []string{"a", "tenant\x00\x01app\x00\x01run-00/zz", "zzz"} {
		lo, hi := r.Span([]byte(p))
		_, _, ok, err := r.GetIn(lo, hi, []byte(p+"x"), 1<<40)
		require.NoError(t, err)
		require.False(t, ok, p)
	}
	_, _, _, err = r.GetIn(3, 2, []byte("k"), 1)
	require.Error(t, err)
	_, _, _, err = r.GetIn(0, r.Blocks()+1, []byte("k"), 1)
	require.Error(t, err)
}

// TestGetAcrossSmallBlocks: with blocks small enough that a key's
// versions often straddle two blocks, Get (through each block's point
// index) answers as the model at every snapshot around every version.
func TestGetAcrossSmallBlocks(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	es := randomEntries(rng, 400)
	fs := vfs.NewMemFS(1)
	require.NoError(t, fs.MkdirAll("cold"))
	writeFile(t, fs, "cold/1.cold", CodecS2, es, 2<<10)
	r, err := Open(fs, "cold/1.cold", 1, &mapCache{m: map[uint64]*Block{}})
	require.NoError(t, err)
	defer r.Close()
	require.Greater(t, r.Blocks(), 100)
	for _, e := range es {
		for _, snap := range []uint64{e.version - 1, e.version, e.version + 1, 1 << 40} {
			want, wok := modelGet(es, e.key, snap)
			val, ver, ok, err := r.Get([]byte(e.key), snap)
			require.NoError(t, err)
			require.Equal(t, wok, ok, "%q at %d", e.key, snap)
			if ok {
				require.Equal(t, want.version, ver)
				require.True(t, bytes.Equal(want.value, val))
			}
		}
	}
}
