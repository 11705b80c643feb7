package coldfile

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/inmem-db/inmem/internal/vfs"
)

// words is the vocabulary agent text is drawn from, most frequent first.
var words = strings.Fields(`the a to of and in is for that on with as it be this are by from at or
an not can you will your we if have has more data user query result error file tool call model
search weather city temperature forecast order customer status ticket price product item list
page title summary source code function return value request response token context memory plan
step next answer question information document section report account payment shipping date time
analysis recommend check update create delete found match score relevant retrieved agent chat
assistant system message content role name arguments output input total count limit offset`)

// agentText is JSON-shaped text of about n bytes: keys, punctuation and
// words in a Zipf-like mix, as tool calls, tool results and model output
// look.
func agentText(rng *rand.Rand, n int) []byte {
	zipf := rand.NewZipf(rng, 1.2, 4, uint64(len(words)-1))
	var b strings.Builder
	fields := []string{"tool", "query", "result", "title", "snippet", "content", "role", "id"}
	b.WriteString(`{"`)
	for b.Len() < n {
		fmt.Fprintf(&b, `%s":"`, fields[rng.Intn(len(fields))])
		for range 4 + rng.Intn(12) {
			b.WriteString(words[zipf.Uint64()])
			b.WriteByte(' ')
		}
		if rng.Intn(4) == 0 {
			fmt.Fprintf(&b, `%d`, rng.Intn(100000))
		}
		b.WriteString(`","`)
	}
	return []byte(b.String()[:n])
}

// agentEntries is what n steps of the agent step in the README write into a
// run, in the engine's layout: an event of 400 bytes and its type index
// entry, a KV value of 400 bytes, a state cell's CAS, a span with 400 bytes
// of input and 800 of output and its index entries; keys share the run's
// scope prefix, values carry the one-byte header.
func agentEntries(rng *rand.Rand, steps int) []modelEntry {
	scope := "acme\x00\x01support-bot\x00\x01triage\x00\x01" + fmt.Sprint(rng.Int63()) + "\x19\x8c\x01\x02\x03\x04\x05\x06\x07\x08\x09"
	var out []modelEntry
	add := func(tag byte, user string, v uint64, val []byte) {
		out = append(out, modelEntry{key: scope + string(tag) + user, version: v, value: append([]byte{0}, val...)})
	}
	u64 := func(x uint64) string { return string(binary.BigEndian.AppendUint64(nil, x)) }
	for i := range steps {
		v := uint64(i + 1)
		add(0x02, "e"+u64(v), v, agentText(rng, 400))
		add(0x02, "t\x0btool_result"+u64(v), v, nil)
		add(0x01, fmt.Sprintf("memory/%s/%d", words[rng.Intn(40)], rng.Intn(1000)), v, agentText(rng, 400))
		add(0x03, "c\x05steps", v, binary.BigEndian.AppendUint64(nil, v))
		span := append(agentText(rng, 400), agentText(rng, 800)...)
		add(0x04, "s"+u64(v), v, span)
		add(0x04, "k\x01"+u64(v), v, nil)
		add(0x04, "n\x10chat gpt-4o-mini"+u64(v), v, nil)
	}
	// The state cell is written at every step, so it has an entry per
	// version; a KV key drawn twice keeps both versions.
	slices.SortFunc(out, func(a, b modelEntry) int { return compare([]byte(a.key), a.version, []byte(b.key), b.version) })
	return slices.CompactFunc(out, func(a, b modelEntry) bool { return a.key == b.key && a.version == b.version })
}

// BenchmarkCodecs measures, on agent steps, each codec's file size against
// the raw bytes of the entries (keys and values, what the arena holds
// besides its node headers), the time to write a file, and the time to
// read one block back (a point read's cost on a cache miss, past the
// disk). Run: go test -run '^$' -bench Codecs ./internal/coldfile
func BenchmarkCodecs(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	es := agentEntries(rng, 2000)
	raw := 0
	for _, e := range es {
		raw += len(e.key) + len(e.value)
	}
	for _, codec := range []Codec{CodecNone, CodecS2, CodecZstd} {
		b.Run(codec.String()+"/write", func(b *testing.B) {
			var size int64
			for range b.N {
				fs := vfs.NewMemFS(1)
				size = writeFile(b, fs, "f.cold", codec, es, 0)
			}
			b.ReportMetric(float64(size)/float64(raw), "file/raw")
			b.ReportMetric(float64(raw)*float64(b.N)/b.Elapsed().Seconds()/1e6, "rawMB/s")
		})
		b.Run(codec.String()+"/block", func(b *testing.B) {
			fs := vfs.NewMemFS(1)
			writeFile(b, fs, "f.cold", codec, es, 0)
			r, err := Open(fs, "f.cold", 1, nil)
			require.NoError(b, err)
			defer r.Close()
			b.ResetTimer()
			for i := range b.N {
				if _, err := r.block(i%r.Blocks(), false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCodecsOnAgentData keeps the measurement's inputs honest: agent steps
// compress (the text is not random), every codec reads back the same
// entries, and the compressed files are smaller than the raw one.
func TestCodecsOnAgentData(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	es := agentEntries(rng, 200)
	sizes := map[Codec]int64{}
	for _, codec := range []Codec{CodecNone, CodecS2, CodecZstd} {
		fs := vfs.NewMemFS(1)
		sizes[codec] = writeFile(t, fs, "f.cold", codec, es, 0)
		r, err := Open(fs, "f.cold", 1, nil)
		require.NoError(t, err)
		require.NoError(t, r.Verify())
		require.EqualValues(t, len(es), r.Entries())
		require.NoError(t, r.Close())
	}
	require.Less(t, sizes[CodecS2], sizes[CodecNone]*3/4)
	require.Less(t, sizes[CodecZstd], sizes[CodecS2])
}

// BenchmarkGet is a point read of a cold file whose block is cached: a
// probe of the block's point index. Run: go test -run '^$' -bench
// 'Get$' -benchmem ./internal/coldfile
func BenchmarkGet(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	es := agentEntries(rng, 2000)
	fs := vfs.NewMemFS(1)
	writeFile(b, fs, "f.cold", DefaultCodec, es, 0)
	cache := &mapCache{m: map[uint64]*Block{}}
	r, err := Open(fs, "f.cold", 1, cache)
	require.NoError(b, err)
	defer r.Close()
	keys := make([][]byte, 1024)
	vers := make([]uint64, len(keys))
	for i := range keys {
		e := es[rng.Intn(len(es))]
		keys[i], vers[i] = []byte(e.key), e.version
		if _, _, _, err := r.Get(keys[i], vers[i]); err != nil { // warm the cache
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, _, ok, err := r.Get(keys[i%len(keys)], vers[i%len(keys)]); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkLoadBlock is a cache miss: a block read from the file,
// decompressed, checked, and its point index built (per op; the bytes are
// the decompressed block's). Run: go test -run '^$' -bench LoadBlock
// ./internal/coldfile
func BenchmarkLoadBlock(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	es := agentEntries(rng, 2000)
	fs := vfs.NewMemFS(1)
	writeFile(b, fs, "f.cold", DefaultCodec, es, 0)
	r, err := Open(fs, "f.cold", 1, nil)
	require.NoError(b, err)
	defer r.Close()
	for _, index := range []bool{false, true} {
		b.Run(fmt.Sprintf("index=%v", index), func(b *testing.B) {
			var n int64
			for i := 0; b.Loop(); i++ {
				blk, err := r.block(i%r.Blocks(), index)
				if err != nil {
					b.Fatal(err)
				}
				if index {
					if _, err := blk.pointIndex(r.index[i%r.Blocks()].lastKey); err != nil {
						b.Fatal(err)
					}
				}
				n += int64(len(blk.it.data))
			}
			b.SetBytes(n / int64(b.N))
		})
	}
}
