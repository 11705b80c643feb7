package vfs

// WriteBehind writes to F, a file written from its start, and hands each
// Span bytes written to F.WriteBack: a snapshot of gigabytes then reaches
// the disk while it is written, and its Sync finds little left to flush,
// instead of holding the disk for seconds while a log's fsyncs queue
// behind it.
type WriteBehind struct {
	F    File
	Span int64 // bytes between WriteBack calls; 4 MiB is a good size

	off  int64 // bytes written
	from int64 // start of the bytes not yet handed to WriteBack
}

// Write writes p to F.
func (w *WriteBehind) Write(p []byte) (int, error) {
	n, err := w.F.Write(p)
	w.off += int64(n)
	if w.off-w.from >= w.Span {
		// A hint: a failure to start writeback shows at Sync, if it is
		// one the data's durability depends on.
		_ = w.F.WriteBack(w.from, w.off-w.from)
		w.from = w.off
	}
	return n, err
}
