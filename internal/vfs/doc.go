// Package vfs is the filesystem seam under everything that touches disk.
//
// The engine never calls package os directly for its data files: it goes
// through FS, so tests can swap in MemFS, which models what a crash leaves
// behind (writes not yet synced may be lost, in part or whole, and a
// partially written sector may hold garbage), injects I/O errors at any
// operation, and crashes at the N-th operation.
//
// Invariants of every FS implementation:
//   - Data written to a File is durable only after File.Sync returns nil.
//   - A created, renamed or removed name is durable only after SyncDir of
//     its directory returns nil.
//   - An error from Sync means nothing about what reached the disk: callers
//     must treat the file as lost from the last successful Sync on.
//   - Preallocate changes neither a file's content nor its size, and
//     WriteBack nothing at all that a reader or a crash can see.
package vfs
