package inmem

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/keys"
	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
)

// A snapshot file, snap-<version>.snap, is a sequence of WAL-framed
// records (length, CRC-32C, type, payload):
//
//	header:  "INMEMSNP" | version u64 | walSegment u64 | runs uvarint | (run[16] steps uvarint)*
//	steps:   run[16] | first uvarint | n uvarint | (version uvarint time varint)*   (any number of records)
//	entries: (keyLen uvarint key version uvarint valLen uvarint value)*   (any number of records)
//	vectors: a shared-scope collection's graph (see vecsnap.go)           (one record per collection)
//	trailer: entry count u64
//
// version is the last commit the snapshot holds; walSegment the first WAL
// segment holding commits after it. A steps record carries steps first..
// first+n-1 of a run's step list (records of one run in order). Every record must check out and the
// trailer must be last: a snapshot is all or nothing.
// The record types are in internal/engine/records.go.
const (
	snapMagic      = "INMEMSNP"
	snapChunkBytes = 256 << 10
	snapChunkSteps = 16 << 10
)

func snapshotName(version uint64) string { return fmt.Sprintf("snap-%020d.snap", version) }

// parseSnapshotName returns the version of a snapshot file name. Only the
// name snapshotName gives the version is one: recovery and retirement open
// and remove a snapshot by that name, so another spelling of the version
// ("snap-7.snap") is no snapshot.
func parseSnapshotName(name string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, "snap-")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".snap")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil && name == snapshotName(v)
}

// snapshots lists snapshot versions in dir, newest first.
func snapshots(fs vfs.FS, dir string) ([]uint64, error) {
	names, err := fs.List(dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, n := range names {
		if v, ok := parseSnapshotName(n); ok {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
	return out, nil
}

// snapMeta is what a snapshot's header says.
type snapMeta struct {
	version uint64
	segment uint64
	steps   map[RunID]int64
	logs    map[RunID][]engine.StepRec // each run's step list
	vectors [][]byte                   // engine.RecSnapVectors records, as read
	bytes   int64                      // the file's size, as read
}

// writeSnapshot writes the engine's entries at or below meta.version to a
// temporary file, fsyncs it, renames it into place and fsyncs the directory.
func (db *DB) writeSnapshot(meta snapMeta) (err error) {
	fs, dir := db.fs, db.dir
	final := filepath.Join(dir, snapshotName(meta.version))
	tmp := final + ".tmp"
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("snapshot: create %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			_ = fs.Remove(tmp)
		}
	}()
	// Written behind: a checkpoint's tens of megabytes left dirty until
	// the Sync below would make the WAL's fsyncs wait behind them (a
	// Strict commit's p99 rose by a tenth in runs with a checkpoint).
	w := bufio.NewWriterSize(&vfs.WriteBehind{F: f, Span: 4 << 20}, 1<<20)
	var size int64
	put := func(typ byte, payload []byte) error {
		// Header and payload separately: a collection's graph is one
		// record of up to hundreds of megabytes, not to be copied again.
		h := wal.Header(typ, payload)
		size += int64(len(h) + len(payload))
		if _, err := w.Write(h[:]); err != nil {
			return err
		}
		_, err := w.Write(payload)
		return err
	}

	h := []byte(snapMagic)
	h = binary.LittleEndian.AppendUint64(h, meta.version)
	h = binary.LittleEndian.AppendUint64(h, meta.segment)
	h = binary.AppendUvarint(h, uint64(len(meta.steps)))
	for id, n := range meta.steps {
		h = append(h, id[:]...)
		h = binary.AppendUvarint(h, uint64(n))
	}
	if err := put(engine.RecSnapHeader, h); err != nil {
		return fmt.Errorf("snapshot: write: %w", err)
	}

	for id, log := range meta.logs {
		for first := 0; first < len(log); first += snapChunkSteps {
			part := log[first:min(len(log), first+snapChunkSteps)]
			p := append([]byte(nil), id[:]...)
			p = binary.AppendUvarint(p, uint64(first))
			p = binary.AppendUvarint(p, uint64(len(part)))
			for _, st := range part {
				p = binary.AppendUvarint(p, st.Version)
				p = binary.AppendVarint(p, st.Time)
			}
			if err := put(engine.RecSnapSteps, p); err != nil {
				return fmt.Errorf("snapshot: write: %w", err)
			}
		}
	}

	var chunk []byte
	var count uint64
	// A frozen scope's versions up to its freeze are in its cold file,
	// and the snapshot holds the manifest entry that says so: they are
	// left out (a reclaim drops them from the arena too).
	var scope []byte
	var frozen uint64
	it := db.store.Current().List.Iter()
	for it.First(); it.Valid(); it.Next() {
		if it.Version() > meta.version {
			continue
		}
		if n := keys.ScopeLen(it.Key()); n < 0 {
			scope, frozen = nil, 0
		} else if !bytes.Equal(it.Key()[:n], scope) {
			scope, frozen = it.Key()[:n], 0
			if ref := db.cold.lookup(scope); ref != nil && ref.at <= meta.version {
				frozen = ref.version
			}
		}
		if it.Version() <= frozen {
			continue
		}
		chunk = binary.AppendUvarint(chunk, uint64(len(it.Key())))
		chunk = append(chunk, it.Key()...)
		chunk = binary.AppendUvarint(chunk, it.Version())
		chunk = binary.AppendUvarint(chunk, uint64(len(it.Value())))
		chunk = append(chunk, it.Value()...)
		count++
		if len(chunk) >= snapChunkBytes {
			if err := put(engine.RecSnapEntries, chunk); err != nil {
				return fmt.Errorf("snapshot: write: %w", err)
			}
			chunk = chunk[:0]
		}
	}
	if len(chunk) > 0 {
		if err := put(engine.RecSnapEntries, chunk); err != nil {
			return fmt.Errorf("snapshot: write: %w", err)
		}
	}
	var werr error
	err = db.vectorRecords(meta.version, func(rec []byte) error {
		werr = put(engine.RecSnapVectors, rec)
		return werr
	})
	if werr != nil {
		return fmt.Errorf("snapshot: write: %w", werr)
	}
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := put(engine.RecSnapTrailer, binary.LittleEndian.AppendUint64(nil, count)); err != nil {
		return fmt.Errorf("snapshot: write: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("snapshot: write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("snapshot: sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("snapshot: close: %w", err)
	}
	if err := fs.Rename(tmp, final); err != nil {
		return fmt.Errorf("snapshot: rename: %w", err)
	}
	if err := fs.SyncDir(dir); err != nil {
		return fmt.Errorf("snapshot: sync dir: %w", err)
	}
	db.lastSnapBytes.Store(size)
	db.snapAt.Store(meta.version)
	return nil
}

// readSnapshot checks and loads a snapshot, calling fn for every entry. It
// returns the header's metadata; any damage is ErrCorruption, and then fn
// may have seen some entries (the caller starts over with a fresh store).
// The file is streamed a record at a time, so reading it takes memory for
// one record, not for the whole database: the key and value fn gets are
// valid only during the call.
func readSnapshot(fs vfs.FS, path string, fn func(key []byte, version uint64, value []byte) error) (snapMeta, error) {
	var meta snapMeta
	f, err := fs.Open(path)
	if err != nil {
		return meta, err
	}
	defer f.Close()
	fileSize, err := f.Size()
	if err != nil {
		return meta, err
	}
	r := snapReader{r: bufio.NewReaderSize(f, snapReadBuffer), size: fileSize}
	bad := func(off int64, what string) error {
		return fmt.Errorf("snapshot %s at offset %d: %s: %w", path, off, what, ErrCorruption)
	}

	count, seenHeader := uint64(0), false
	for {
		off := r.off
		typ, p, err := r.next()
		switch {
		case errors.Is(err, io.EOF):
			return meta, bad(off, "no trailer")
		case errors.Is(err, errSnapDamaged):
			return meta, bad(off, err.Error())
		case err != nil:
			return meta, fmt.Errorf("snapshot %s: %w", path, err)
		}
		switch {
		case typ == engine.RecSnapHeader && !seenHeader && off == 0:
			if meta, err = decodeSnapHeader(p); err != nil {
				return meta, bad(off, err.Error())
			}
			seenHeader = true
		case typ == engine.RecSnapVectors && seenHeader:
			// Kept until the whole file has checked out.
			meta.vectors = append(meta.vectors, bytes.Clone(p))
		case typ == engine.RecSnapSteps && seenHeader:
			if err := decodeSnapSteps(p, meta.version, meta.logs); err != nil {
				return meta, bad(off, err.Error())
			}
		case typ == engine.RecSnapEntries && seenHeader:
			for len(p) > 0 {
				key, rest, err := engine.ReadChunk(p)
				if err != nil {
					return meta, bad(off, "entry key")
				}
				ver, k := binary.Uvarint(rest)
				if k <= 0 || ver == 0 || ver > meta.version {
					return meta, bad(off, "entry version")
				}
				val, rest, err := engine.ReadChunk(rest[k:])
				if err != nil {
					return meta, bad(off, "entry value")
				}
				if err := fn(key, ver, val); err != nil {
					return meta, err
				}
				count++
				p = rest
			}
		case typ == engine.RecSnapTrailer && seenHeader && len(p) == 8:
			if got := binary.LittleEndian.Uint64(p); got != count {
				return meta, bad(off, "trailer does not match")
			}
			switch _, err := r.r.ReadByte(); {
			case err == nil:
				return meta, bad(r.off, "data after the trailer")
			case !errors.Is(err, io.EOF):
				return meta, fmt.Errorf("snapshot %s: %w", path, err)
			}
			meta.bytes = r.off
			return meta, nil
		default:
			return meta, bad(off, fmt.Sprintf("unexpected record type %d", typ))
		}
	}
}

// snapReadBuffer is how much of a snapshot is read from the file at once.
const snapReadBuffer = 256 << 10

// errSnapDamaged wraps what a snapReader finds wrong with a frame.
var errSnapDamaged = errors.New("damaged frame")

// snapReader reads a snapshot's frames one after another into one reused
// buffer.
type snapReader struct {
	r    *bufio.Reader
	buf  []byte // the current frame: header, then payload
	off  int64  // file offset of the next frame
	size int64  // the file's size when opened: no frame is read past it
}

// next returns the next frame's type and payload (valid until the next
// call). It returns io.EOF at a clean end of the file, an error wrapping
// errSnapDamaged for a torn or corrupt frame, and I/O errors as they are.
func (s *snapReader) next() (byte, []byte, error) {
	if cap(s.buf) < wal.HeaderSize {
		s.buf = make([]byte, wal.HeaderSize, 64<<10)
	}
	h := s.buf[:wal.HeaderSize]
	if n, err := io.ReadFull(s.r, h); err != nil {
		if errors.Is(err, io.EOF) && n == 0 {
			return 0, nil, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("%w: torn frame header", errSnapDamaged)
		}
		return 0, nil, err
	}
	length := binary.LittleEndian.Uint32(h)
	if length > wal.MaxRecord {
		return 0, nil, fmt.Errorf("%w: frame length %d", errSnapDamaged, length)
	}
	size := wal.HeaderSize + int(length)
	if int64(size) > s.size-s.off {
		// A damaged length must not make the reader allocate it.
		return 0, nil, fmt.Errorf("%w: frame of %d bytes runs past the end of the file", errSnapDamaged, size)
	}
	if cap(s.buf) < size {
		grown := make([]byte, size, max(size, 2*cap(s.buf)))
		copy(grown, h)
		s.buf = grown
	}
	frame := s.buf[:size]
	if _, err := io.ReadFull(s.r, frame[wal.HeaderSize:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("%w: torn frame", errSnapDamaged)
		}
		return 0, nil, err
	}
	typ, p, _, err := wal.DecodeRecord(frame)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", errSnapDamaged, err)
	}
	s.off += int64(size)
	return typ, p, nil
}

func decodeSnapHeader(p []byte) (snapMeta, error) {
	var m snapMeta
	if len(p) < len(snapMagic)+16 || string(p[:len(snapMagic)]) != snapMagic {
		return m, errors.New("bad header")
	}
	p = p[len(snapMagic):]
	m.version = binary.LittleEndian.Uint64(p)
	m.segment = binary.LittleEndian.Uint64(p[8:])
	p = p[16:]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) {
		return m, errors.New("bad run count")
	}
	p = p[k:]
	m.steps = make(map[RunID]int64, n)
	m.logs = map[RunID][]engine.StepRec{}
	for i := uint64(0); i < n; i++ {
		if len(p) < 16 {
			return m, errors.New("bad run entry")
		}
		var id RunID
		copy(id[:], p)
		s, k := binary.Uvarint(p[16:])
		if k <= 0 {
			return m, errors.New("bad run steps")
		}
		m.steps[id] = int64(s)
		p = p[16+k:]
	}
	if len(p) != 0 {
		return m, errors.New("trailing header bytes")
	}
	return m, nil
}

// decodeSnapSteps appends one steps record to logs, checking that it
// continues its run's list and that versions rise and stay within the
// snapshot.
func decodeSnapSteps(p []byte, snapVersion uint64, logs map[RunID][]engine.StepRec) error {
	if len(p) < 16 {
		return errors.New("bad steps record")
	}
	var id RunID
	copy(id[:], p)
	p = p[16:]
	first, k := binary.Uvarint(p)
	if k <= 0 || first != uint64(len(logs[id])) {
		return errors.New("steps record out of order")
	}
	p = p[k:]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) {
		return errors.New("bad step count")
	}
	p = p[k:]
	log := logs[id]
	for i := uint64(0); i < n; i++ {
		v, k := binary.Uvarint(p)
		if k <= 0 || v == 0 || v > snapVersion || (len(log) > 0 && v <= log[len(log)-1].Version) {
			return errors.New("bad step version")
		}
		p = p[k:]
		t, k := binary.Varint(p)
		if k <= 0 {
			return errors.New("bad step time")
		}
		p = p[k:]
		log = append(log, engine.StepRec{Version: v, Time: t})
	}
	if len(p) != 0 {
		return errors.New("trailing steps bytes")
	}
	logs[id] = log
	return nil
}
