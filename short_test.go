package inmem

import "testing"

// shortOr is full, or short under -short: mutation testing runs the suite
// once per mutant, so the exhaustive tests (every crash point, every byte
// of a file) take every third point or a quarter of their seeds there.
func shortOr(full, short int) int {
	if testing.Short() {
		return short
	}
	return full
}
