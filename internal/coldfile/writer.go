package coldfile

import (
	"bufio"
	"errors"
	"fmt"
	iofs "io/fs"
	"path/filepath"

	"github.com/inmem-db/inmem/internal/errs"
	"github.com/inmem-db/inmem/internal/vfs"
)

// BlockSize is the uncompressed size a block is cut at: large enough for
// the compressor to find the repetition across an agent's steps, small
// enough that a point read decompresses little.
const BlockSize = 32 << 10

// Writer writes one cold file. Entries are added in order; Finish makes
// the file durable under its final name, Abort leaves nothing.
type Writer struct {
	fs          vfs.FS
	path, tmp   string
	f           vfs.File
	w           *bufio.Writer
	codec       Codec
	blockSize   int // BlockSize; tests cut smaller blocks
	raw, sealed []byte
	restarts    []uint32 // the block's restart points (offsets in raw)
	inBlock     int      // entries in the block so far
	prev        []byte   // the block's previous key (prefix sharing)
	lastKey     []byte
	lastVersion uint64
	off         int64
	index       []indexEntry
	entries     uint64
	done        bool
}

// Create starts the file path on fs, written to path+".tmp" until Finish.
func Create(fs vfs.FS, path string, codec Codec) (*Writer, error) {
	if codec > CodecZstd {
		return nil, fmt.Errorf("cold file %s: codec %d: %w", path, codec, errs.ErrInvalidArgument)
	}
	tmp := path + ".tmp"
	f, err := fs.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("cold file %s: %w", path, err)
	}
	return &Writer{fs: fs, path: path, tmp: tmp, f: f, w: bufio.NewWriterSize(f, 256<<10), codec: codec, blockSize: BlockSize}, nil
}

// Add appends an entry. Entries must come in the skiplist's order (key
// ascending, version descending), each (key, version) once.
func (w *Writer) Add(key []byte, version uint64, value []byte) error {
	if w.done {
		return fmt.Errorf("cold file %s: add after finish: %w", w.path, errs.ErrInvalidArgument)
	}
	if w.entries > 0 && compare(w.lastKey, w.lastVersion, key, version) >= 0 {
		return fmt.Errorf("cold file %s: entry %q@%d not after %q@%d: %w", w.path, key, version, w.lastKey, w.lastVersion, errs.ErrInvalidArgument)
	}
	if len(key)+len(value) > maxBlockLen/2 {
		return fmt.Errorf("cold file %s: entry of %d bytes: %w", w.path, len(key)+len(value), errs.ErrTooLarge)
	}
	if w.inBlock%restartEvery == 0 {
		w.restarts = append(w.restarts, uint32(len(w.raw)))
		w.prev = w.prev[:0] // a restart point shares nothing
	}
	w.inBlock++
	w.raw = appendEntry(w.raw, w.prev, key, version, value)
	w.prev = append(w.prev[:0], key...)
	w.lastKey = append(w.lastKey[:0], key...)
	w.lastVersion = version
	w.entries++
	if len(w.raw) >= w.blockSize {
		return w.flush()
	}
	return nil
}

// flush seals the block being built and writes it.
func (w *Writer) flush() error {
	if len(w.raw) == 0 {
		return nil
	}
	w.raw = appendRestarts(w.raw, w.restarts)
	w.sealed = sealBlock(w.sealed[:0], w.raw, w.codec)
	if _, err := w.w.Write(w.sealed); err != nil {
		return fmt.Errorf("cold file %s: %w", w.path, err)
	}
	w.index = append(w.index, indexEntry{lastKey: append([]byte(nil), w.lastKey...), lastVersion: w.lastVersion, off: w.off, length: int64(len(w.sealed))})
	w.off += int64(len(w.sealed))
	w.raw, w.prev, w.restarts, w.inBlock = w.raw[:0], w.prev[:0], w.restarts[:0], 0
	return nil
}

// Finish writes the index and footer, fsyncs the file, renames it into
// place and fsyncs its directory, and returns the file's size. Only a nil
// error means the file is durable under its name. On error the temporary
// file is removed where the filesystem still allows it; a failure after
// the rename (the directory's fsync) may leave the file under its name, so
// a caller records a file only after Finish succeeded and treats files it
// did not record as leftovers.
func (w *Writer) Finish() (size int64, err error) {
	if w.done {
		return 0, fmt.Errorf("cold file %s: finished twice: %w", w.path, errs.ErrInvalidArgument)
	}
	w.done = true
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	if err := w.flush(); err != nil {
		return 0, err
	}
	ix := appendIndex(nil, w.index)
	tail := footer{indexOff: w.off, indexLen: int64(len(ix)), entries: w.entries}.append(ix)
	if _, err := w.w.Write(tail); err != nil {
		return 0, fmt.Errorf("cold file %s: %w", w.path, err)
	}
	if err := w.w.Flush(); err != nil {
		return 0, fmt.Errorf("cold file %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return 0, fmt.Errorf("cold file %s: sync: %w", w.path, err)
	}
	err = w.f.Close()
	w.f = nil
	if err != nil {
		return 0, fmt.Errorf("cold file %s: %w", w.path, err)
	}
	if err := w.fs.Rename(w.tmp, w.path); err != nil {
		return 0, fmt.Errorf("cold file %s: %w", w.path, err)
	}
	if err := w.fs.SyncDir(filepath.Dir(w.path)); err != nil {
		return 0, fmt.Errorf("cold file %s: sync dir: %w", w.path, err)
	}
	return w.off + int64(len(tail)), nil
}

// Abort gives up the file: the temporary file is closed and removed.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.abort()
}

func (w *Writer) abort() error {
	var err error
	if w.f != nil {
		err = w.f.Close()
		w.f = nil
	}
	if rerr := w.fs.Remove(w.tmp); rerr != nil && !errors.Is(rerr, iofs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}
