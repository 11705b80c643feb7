package inmem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/inmem-db/inmem/internal/engine"
	"github.com/inmem-db/inmem/internal/vfs"
	"github.com/inmem-db/inmem/wal"
)

// readSnapHeader reads and checks only the header record of the snapshot
// at path, without loading the rest: what recovery progress and
// VerifyFiles need to know before (or besides) reading the whole file.
// It returns the header's metadata and the size of its frame.
func readSnapHeader(fs vfs.FS, path string) (snapMeta, int, error) {
	f, err := fs.Open(path)
	if err != nil {
		return snapMeta{}, 0, err
	}
	defer f.Close()
	var h [wal.HeaderSize]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return snapMeta{}, 0, fmt.Errorf("snapshot %s at offset 0: header: %v: %w", path, err, ErrCorruption)
	}
	// A damaged length can claim far more than the file holds: check it
	// before allocating.
	n := int64(binary.LittleEndian.Uint32(h[:]))
	if size, err := f.Size(); err != nil || n > size-wal.HeaderSize {
		return snapMeta{}, 0, fmt.Errorf("snapshot %s at offset 0: header of %d bytes: %w", path, n, ErrCorruption)
	}
	frame := make([]byte, wal.HeaderSize+int(n))
	copy(frame, h[:])
	if _, err := io.ReadFull(f, frame[wal.HeaderSize:]); err != nil {
		return snapMeta{}, 0, fmt.Errorf("snapshot %s at offset 0: header: %v: %w", path, err, ErrCorruption)
	}
	typ, p, size, err := wal.DecodeRecord(frame)
	if err == nil && typ != engine.RecSnapHeader {
		err = errors.New("first record is not the header")
	}
	if err != nil {
		return snapMeta{}, 0, fmt.Errorf("snapshot %s at offset 0: %v: %w", path, err, ErrCorruption)
	}
	meta, err := decodeSnapHeader(p)
	if err != nil {
		return snapMeta{}, 0, fmt.Errorf("snapshot %s at offset 0: %v: %w", path, err, ErrCorruption)
	}
	return meta, size, nil
}
