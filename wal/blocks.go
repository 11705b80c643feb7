package wal

// blockSize is the size of the blocks appended records are framed into.
// Records go into fixed blocks rather than one growing slice: growing the
// slice copied everything buffered into an allocation twice its size while
// the appender held the log's lock, which under a commit's critical
// section is every committer waiting, and more so after a slow fsync let
// the buffer grow. A full block is never copied; new blocks are made by
// the syncer outside the lock (see topUp), so appenders seldom allocate.
const blockSize = 1 << 20

// keepBlocks bounds the free blocks a log keeps for reuse (32 MiB); the
// rest of a larger backlog goes back to the garbage collector once written.
const keepBlocks = 32

// blockBuf is the records appended since the syncer last took them: full
// blocks, then the one being filled. Guarded by the log's mutex.
type blockBuf struct {
	blocks [][]byte // each used from its start; only the last has room
	n      int      // bytes in all blocks
}

// appendRecord frames the record into the buffer, taking a block from free
// (or making one) when the current block has no room.
func (b *blockBuf) appendRecord(free *[][]byte, typ byte, payload []byte) {
	size := HeaderSize + len(payload)
	k := len(b.blocks)
	if k == 0 || cap(b.blocks[k-1])-len(b.blocks[k-1]) < size {
		b.blocks = append(b.blocks, takeBlock(free, size))
		k++
	}
	b.blocks[k-1] = AppendRecord(b.blocks[k-1], typ, payload)
	b.n += size
}

// takeBlock returns an empty block with room for size bytes: a kept one
// when size fits a standard block, else a new one (a record larger than a
// block gets a block of its own size).
func takeBlock(free *[][]byte, size int) []byte {
	if size > blockSize {
		return make([]byte, 0, size)
	}
	if k := len(*free); k > 0 {
		blk := (*free)[k-1]
		*free = (*free)[:k-1]
		return blk[:0]
	}
	return make([]byte, 0, blockSize)
}

// giveBlocks returns written blocks to free, keeping at most keepBlocks
// standard ones.
func giveBlocks(free *[][]byte, blocks [][]byte) {
	for _, blk := range blocks {
		if cap(blk) == blockSize && len(*free) < keepBlocks {
			*free = append(*free, blk[:0])
		}
	}
}

// topUpTarget is how many free blocks the syncer makes ready after a round
// that used used blocks: room for a backlog twice as large before an
// appender has to allocate one, within keepBlocks.
func topUpTarget(used int) int { return min(keepBlocks, 2*used) }
