package inmem

import "unsafe"

// copyBuf hands out copies of small byte strings from shared chunks, so a
// scan that returns a hundred keys and values allocates a few chunks
// instead of two objects per entry. Chunk memory is only ever appended to,
// never rewritten, so every copy stays intact for as long as anyone holds
// it; holding one keeps its chunk alive.
type copyBuf struct {
	b []byte
}

const copyChunk = 4 << 10

// bytes returns a copy of src whose capacity ends with it, so appending to
// it cannot reach a neighbour.
func (c *copyBuf) bytes(src []byte) []byte {
	if len(src) > copyChunk/4 {
		return clone(src)
	}
	if cap(c.b)-len(c.b) < len(src) || c.b == nil {
		c.b = make([]byte, 0, copyChunk)
	}
	n := len(c.b)
	c.b = append(c.b, src...)
	return c.b[n:len(c.b):len(c.b)]
}

// string returns src as a string backed by a copy.
func (c *copyBuf) string(src []byte) string {
	if len(src) == 0 {
		return ""
	}
	b := c.bytes(src)
	return unsafe.String(unsafe.SliceData(b), len(b))
}
