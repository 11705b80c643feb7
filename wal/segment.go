package wal

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/inmem-db/inmem/internal/vfs"
)

const segmentMagic = "INMEMWAL"

// SegmentName returns the file name of segment n.
func SegmentName(n uint64) string { return fmt.Sprintf("%06d.log", n) }

// parseSegmentName returns the number of a segment file name. Only the
// name SegmentName gives the number is one: the log opens and removes a
// segment by that name, so another spelling of the number ("0000002.log")
// is no segment, not a second segment 2.
func parseSegmentName(name string) (uint64, bool) {
	num, ok := strings.CutSuffix(name, ".log")
	if !ok || len(num) < 6 {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 || name != SegmentName(n) {
		return 0, false
	}
	return n, true
}

// Segments lists the segment numbers in dir, ascending.
func Segments(fs vfs.FS, dir string) ([]uint64, error) {
	names, err := fs.List(dir)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, name := range names {
		if n, ok := parseSegmentName(name); ok {
			out = append(out, n)
		}
	}
	return out, nil
}

func segmentHeader(n uint64) []byte {
	p := make([]byte, len(segmentMagic)+8)
	copy(p, segmentMagic)
	binary.LittleEndian.PutUint64(p[len(segmentMagic):], n)
	return AppendRecord(nil, typeSegment, p)
}

func checkSegmentHeader(payload []byte, n uint64) error {
	if len(payload) != len(segmentMagic)+8 || string(payload[:len(segmentMagic)]) != segmentMagic {
		return fmt.Errorf("bad segment header: %w", ErrCorruption)
	}
	if got := binary.LittleEndian.Uint64(payload[len(segmentMagic):]); got != n {
		return fmt.Errorf("segment header says %d: %w", got, ErrCorruption)
	}
	return nil
}

func segmentPath(dir string, n uint64) string { return filepath.Join(dir, SegmentName(n)) }
