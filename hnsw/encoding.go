package hnsw

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"runtime"
)

// Encoding, little-endian, so a snapshot can carry the graph instead of
// rebuilding it:
//
//	header  "HNSW" | format u8 | metric u8 | dim u32 | M u32 | efCons u32 |
//	        efSearch u32 | seed u64 | count u32 | entry id u32 | entry level u8
//	node    id u32 (strictly increasing) | level u8 | insert u64 | delete u64 |
//	        vector dim×f32 | for each level 0..level: n u16 | n × id u32
//	trailer CRC-32C of everything before it
//
// Vectors are stored as indexed (normalised under Cosine). Empty slots are
// not written; ids are.

const (
	encMagic   = "HNSW"
	encFormat  = 1
	headerSize = 4 + 1 + 1 + 4*4 + 8 + 4 + 4 + 1
	maxEncDim  = 1 << 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes the index, tombstones and versions included. It
// waits for in-flight inserts and for a running Vacuum, and blocks writers
// while it copies, so the encoding is one consistent graph.
func (x *Index) MarshalBinary() ([]byte, error) { return x.MarshalBinaryAt(math.MaxUint64) }

// MarshalBinaryAt encodes the index as of version horizon: a node inserted
// after it is written as never visible (deleted at its insert version) and
// a delete after it is left out, so the decoded index answers searches at
// or below horizon as this one does and holds nothing that came later.
// Later versions are what a log replayed on top re-applies.
func (x *Index) MarshalBinaryAt(horizon uint64) ([]byte, error) {
	x.vacMu.Lock() // a graph between a Vacuum's repairs and its frees links to nodes it would leave out
	defer x.vacMu.Unlock()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.dim == 0 {
		return nil, fmt.Errorf("%w: index not created with New", ErrInvalidArgument)
	}
	count := 0
	size := headerSize + 4
	for id := range x.capacity {
		if x.meta[id].state != stateReady {
			continue
		}
		count++
		size += 4 + 1 + 16 + 4*x.dim + 2 + 4*int(x.links0[id*(1+x.m0)])
		for _, l := range x.upper[id] {
			size += 2 + 4*len(l)
		}
	}
	b := make([]byte, 0, size)
	b = append(b, encMagic...)
	b = append(b, encFormat, byte(x.metric))
	b = binary.LittleEndian.AppendUint32(b, uint32(x.dim))
	b = binary.LittleEndian.AppendUint32(b, uint32(x.m))
	b = binary.LittleEndian.AppendUint32(b, uint32(x.efCons))
	b = binary.LittleEndian.AppendUint32(b, uint32(x.efSrch))
	b = binary.LittleEndian.AppendUint64(b, x.seed)
	b = binary.LittleEndian.AppendUint32(b, uint32(count))
	ep, top, _ := unpackEntry(x.entry.Load())
	b = binary.LittleEndian.AppendUint32(b, ep)
	b = append(b, byte(top))
	for id := range x.capacity {
		if x.meta[id].state != stateReady {
			continue
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(id))
		b = append(b, x.meta[id].level)
		ins, del := x.insVer[id], x.meta[id].delVer
		switch {
		case ins > horizon:
			del = ins
		case del > horizon:
			del = 0
		}
		b = binary.LittleEndian.AppendUint64(b, ins)
		b = binary.LittleEndian.AppendUint64(b, del)
		for _, c := range x.vecs[id*x.dim : (id+1)*x.dim] {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(c))
		}
		base := id * (1 + x.m0)
		b = appendLinks(b, x.links0[base+1:base+1+int(x.links0[base])])
		for _, l := range x.upper[id] {
			b = appendLinks(b, l)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func appendLinks(b []byte, l []uint32) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(l)))
	for _, id := range l {
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	return b
}

// UnmarshalBinary replaces x's contents with a decoded index; x may be a
// zero Index. Any malformed input returns an error wrapping ErrCorrupt and
// leaves x unchanged. It must not run concurrently with other methods on x.
//
// Storage is indexed by id, so a tiny encoding naming a huge id would claim
// a huge allocation; the decoder refuses encodings whose storage would exceed
// 16 bytes per encoded byte plus 4 MiB. A dense id space needs at most about
// 3, so only ids several times sparser than their count can reach it.
func (x *Index) UnmarshalBinary(data []byte) error {
	y, err := decode(data)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dim, x.metric, x.m, x.m0 = y.dim, y.metric, y.m, y.m0
	x.efCons, x.efSrch, x.seed, x.levelML = y.efCons, y.efSrch, y.seed, y.levelML
	x.capacity, x.vecs, x.links0, x.upper = y.capacity, y.vecs, y.links0, y.upper
	x.insVer, x.meta = y.insVer, y.meta
	// x now owns y's arrays and y x's old ones: swapping what each
	// cleanup frees hands x's old arrays to y's, which runs once y is gone.
	if x.mem == nil { // a zero Index: it gets a cleanup of its own
		x.mem = &mappings{}
		runtime.AddCleanup(x, (*mappings).release, x.mem)
	}
	*x.mem, *y.mem = *y.mem, *x.mem
	x.used.Store(y.used.Load())
	x.entry.Store(y.entry.Load())
	x.rngMu.Lock()
	x.rng = y.rng
	x.rngMu.Unlock()
	x.live.Store(y.live.Load())
	x.deleted.Store(y.deleted.Load())
	x.maxIns.Store(y.maxIns.Load())
	x.upperBytes.Store(y.upperBytes.Load())
	return nil
}

// reader is a bounds-checked cursor; after the first short read every
// further read returns zero and ok stays false.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) take(n int) []byte {
	if !r.ok || n > len(r.b) {
		r.ok = false
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() byte {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if p := r.take(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if p := r.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

func decode(data []byte) (*Index, error) {
	if len(data) < headerSize+4 {
		return nil, corrupt("%d bytes is shorter than a header", len(data))
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(body):]) {
		return nil, corrupt("checksum mismatch")
	}
	r := &reader{b: body, ok: true}
	if string(r.take(4)) != encMagic {
		return nil, corrupt("bad magic")
	}
	if f := r.u8(); f != encFormat {
		return nil, corrupt("unknown format %d", f)
	}
	metric := Metric(r.u8())
	dim, m, efc, efs := r.u32(), r.u32(), r.u32(), r.u32()
	seed := r.u64()
	count, entryID, entryLevel := r.u32(), r.u32(), int(r.u8())
	if dim == 0 || dim > maxEncDim || m == 0 || efc == 0 || efs == 0 || efc > math.MaxInt32 || efs > math.MaxInt32 {
		return nil, corrupt("bad config dim=%d M=%d ef=%d/%d", dim, m, efc, efs)
	}
	x, err := New(Config{Dim: int(dim), Metric: metric, M: int(m), EfConstruction: int(efc), EfSearch: int(efs), Seed: seed})
	if err != nil {
		return nil, corrupt("%v", err)
	}
	x.rng = rand.New(rand.NewPCG(seed^uint64(count), seed^0x9e3779b97f4a7c15^uint64(count)))
	slotBytes := 4*x.dim + 4*(1+x.m0) + 8*4 + 32
	limit := 16*len(data) + 4<<20
	minNode := 4 + 1 + 16 + 4*x.dim + 2
	if int(count) > len(body)/minNode {
		return nil, corrupt("%d nodes cannot fit in %d bytes", count, len(body))
	}

	// A first pass checks the records' framing and finds the largest id,
	// so storage is allocated once, at its final size, and only after
	// the input has shown it is long enough to describe it.
	capacity, err := scanNodes(*r, x, count)
	if err != nil {
		return nil, err
	}
	if capacity*slotBytes > limit {
		return nil, corrupt("ids up to %d need more storage than the encoding justifies", capacity-1)
	}
	if capacity > 0 {
		x.growLocked(capacity)
		x.used.Store(int64(capacity))
	}

	maxLvl := -1
	next := 0 // smallest id the next record may use
	for range count {
		id := int(r.u32())
		level := int(r.u8())
		ins, del := r.u64(), r.u64()
		if !r.ok {
			return nil, corrupt("truncated node")
		}
		if id < next || id >= x.capacity {
			return nil, corrupt("node id %d out of order or range", id)
		}
		if level > maxLevel {
			return nil, corrupt("node %d level %d", id, level)
		}
		if del != 0 && del < ins {
			return nil, corrupt("node %d deleted at %d before insert at %d", id, del, ins)
		}
		next = id + 1
		vec := x.vecs[id*x.dim : (id+1)*x.dim]
		for i := range vec {
			vec[i] = math.Float32frombits(r.u32())
		}
		if !r.ok {
			return nil, corrupt("truncated vector")
		}
		sq, err := x.checkVector(vec)
		if err != nil {
			return nil, corrupt("node %d: %v", id, err)
		}
		if x.metric == Cosine {
			if math.Abs(float64(sq)-1) > 1e-3 {
				return nil, corrupt("node %d: cosine vector not normalised", id)
			}
		}
		x.meta[id].level = uint8(level)
		x.insVer[id] = ins
		raiseMax(&x.maxIns, ins)
		x.meta[id].delVer = del
		x.meta[id].state = stateReady
		if level > 0 {
			x.upper[id] = make([][]uint32, level)
			x.upperBytes.Add(x.upperSize(level))
		}
		for l := 0; l <= level; l++ {
			n := int(r.u16())
			if n > x.maxLinks(l) {
				return nil, corrupt("node %d level %d has %d links", id, l, n)
			}
			p := r.take(4 * n)
			if !r.ok {
				return nil, corrupt("truncated links")
			}
			var links []uint32
			if l == 0 {
				base := id * (1 + x.m0)
				x.links0[base] = uint32(n)
				links = x.links0[base+1 : base+1+n]
			} else {
				links = make([]uint32, n, x.m)
				x.upper[id][l-1] = links
			}
			for i := range links {
				links[i] = binary.LittleEndian.Uint32(p[4*i:])
			}
		}
		if del == 0 {
			x.live.Add(1)
		} else {
			x.deleted.Add(1)
		}
		maxLvl = max(maxLvl, level)
	}
	if len(r.b) != 0 {
		return nil, corrupt("%d trailing bytes", len(r.b))
	}

	// Links may point forward, so they are checked once every node is in.
	for id := range x.capacity {
		if x.meta[id].state != stateReady {
			continue
		}
		for l := 0; l <= int(x.meta[id].level); l++ {
			var links []uint32
			if l == 0 {
				base := id * (1 + x.m0)
				links = x.links0[base+1 : base+1+int(x.links0[base])]
			} else {
				links = x.upper[id][l-1]
			}
			for _, nb := range links {
				if int(nb) >= x.capacity || x.meta[nb].state != stateReady || int(nb) == id || int(x.meta[nb].level) < l {
					return nil, corrupt("node %d level %d links to %d", id, l, nb)
				}
			}
		}
	}
	if count > 0 {
		if int(entryID) >= x.capacity || x.meta[entryID].state != stateReady ||
			int(x.meta[entryID].level) != entryLevel || entryLevel != maxLvl {
			return nil, corrupt("bad entry point %d at level %d", entryID, entryLevel)
		}
		x.entry.Store(packEntry(entryID, entryLevel))
	}
	return x, nil
}

// scanNodes walks count node records without storing them, checking ids are
// strictly increasing and in range and that every length fits the input. It
// returns the storage capacity the nodes need (largest id + 1).
func scanNodes(r reader, x *Index, count uint32) (int, error) {
	next := 0
	for range count {
		id := int(r.u32())
		level := int(r.u8())
		r.take(16 + 4*x.dim)
		if !r.ok {
			return 0, corrupt("truncated node")
		}
		if id < next || id > MaxID {
			return 0, corrupt("node id %d out of order or range", id)
		}
		if level > maxLevel {
			return 0, corrupt("node %d level %d", id, level)
		}
		for l := 0; l <= level; l++ {
			n := int(r.u16())
			if n > x.maxLinks(l) {
				return 0, corrupt("node %d level %d has %d links", id, l, n)
			}
			r.take(4 * n)
		}
		if !r.ok {
			return 0, corrupt("truncated links")
		}
		next = id + 1
	}
	if len(r.b) != 0 {
		return 0, corrupt("%d trailing bytes", len(r.b))
	}
	return next, nil
}
