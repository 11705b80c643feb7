package primitives

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// scratchTxn is a memTxn that checks where what is written was built: in
// memory Scratch handed out, within the size that was asked for. A size
// asked too small makes append move the key or value to the heap, and the
// engine's transaction then allocates once more per write.
type scratchTxn struct {
	*memTxn
	regions [][2]uintptr // [start, end) of each Scratch slice
	strays  []string
}

func (s *scratchTxn) Scratch(n int) []byte {
	b := make([]byte, n)
	if n > 0 {
		p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		s.regions = append(s.regions, [2]uintptr{p, p + uintptr(n)})
	}
	return b
}

func (s *scratchTxn) check(what string, b []byte) {
	if len(b) == 0 {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	for _, r := range s.regions {
		if p >= r[0] && p+uintptr(len(b)) <= r[1] {
			return
		}
	}
	s.strays = append(s.strays, fmt.Sprintf("%s of %d bytes %q...", what, len(b), b[:min(len(b), 12)]))
}

func (s *scratchTxn) Put(k, v []byte) error {
	s.check("key", k)
	s.check("value", v)
	return s.memTxn.Put(k, v)
}

func (s *scratchTxn) PutIndex(k []byte) error {
	s.check("index key", k)
	return s.memTxn.PutIndex(k)
}

// TestWritesBuiltInScratch: every key and value the primitives write on an
// agent's hot path (events, cell writes, spans) is built in the
// transaction's scratch memory, within the size they asked for, whatever
// the lengths of names, payloads, attributes and tags. (DefineCell, once
// per machine, builds on the heap.)
func TestWritesBuiltInScratch(t *testing.T) {
	for _, n := range []int{0, 1, 100, 300, 5000} {
		long := strings.Repeat("x", n)
		name := "n" + strings.Repeat("y", min(n, MaxName-1))
		st := &scratchTxn{memTxn: newMemTxn()}

		_, err := AppendEvent(st, name, []byte(long))
		require.NoError(t, err)
		_, err = AppendEvent(st, "t", nil)
		require.NoError(t, err)

		_, err = InitCell(st, name, []byte(long))
		require.NoError(t, err)
		c, err := SetCell(st, name, []byte(long+"1"))
		require.NoError(t, err)
		_, err = CASCell(st, name, c.Version, []byte(long+"22"))
		require.NoError(t, err)
		_, err = TransitionCell(st, name, func(Cell) ([]byte, error) { return []byte(long + "333"), nil })
		require.NoError(t, err)

		attrs := map[string]string{}
		for i := range min(n/10+1, MaxAttrs) {
			attrs[fmt.Sprintf("gen_ai.attr.%03d", i)] = long
		}
		var tags []string
		for i := range n/20 + 1 {
			tags = append(tags, fmt.Sprintf("tag-%d-%s", i, long[:min(n, 40)]))
		}
		root, err := RecordSpan(st, Span{Kind: LLMCall, Name: name, Status: "ok", Input: []byte(long), Output: []byte(long), Attrs: attrs, Tags: tags})
		require.NoError(t, err)
		_, err = RecordSpan(st, Span{Parent: root, Kind: ToolCall, Name: "t", Tags: []string{"a", "a"}})
		require.NoError(t, err)

		require.Empty(t, st.strays, "lengths %d: written from outside scratch memory", n)
	}
}
