package skiplist

import (
	"sync/atomic"
	"unsafe"

	"github.com/inmem-db/inmem/arena"
)

// MaxHeight is the tallest tower a node can have. With a branching factor of
// 2 at the second level and 4 above it indexes 2*4^19 entries before the
// top level stops thinning out.
const MaxHeight = 20

// node is the header of an entry in the arena. Only the first height slots of
// tower are allocated; the key and then the value follow the tower.
type node struct {
	version uint64
	keyLen  uint32
	valLen  uint32
	height  uint32
	flags   uint32 // set before the node is linked, never after
	tower   [MaxHeight]atomic.Uint64
}

// flagUnindexed marks an entry kept out of the point index, so a copy of
// the list (reclaim) can keep it out too.
const flagUnindexed = 1

const headerSize = int(unsafe.Offsetof(node{}.tower))

// The arena guarantees Slack bytes after every allocation, so the full node
// struct can be viewed even when its tower was truncated.
var _ [arena.Slack - int(unsafe.Sizeof(node{}))]byte

func nodeSize(height, keyLen, valLen int) int {
	return headerSize + height*8 + keyLen + valLen
}

func (s *List) node(off uint64) *node {
	return (*node)(s.arena.Pointer(off))
}

func (s *List) key(off uint64, n *node) []byte {
	return s.arena.Bytes(off+uint64(headerSize)+uint64(n.height)*8, int(n.keyLen))
}

func (s *List) value(off uint64, n *node) []byte {
	return s.arena.Bytes(off+uint64(headerSize)+uint64(n.height)*8+uint64(n.keyLen), int(n.valLen))
}
