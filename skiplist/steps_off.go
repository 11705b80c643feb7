//go:build !invariants

package skiplist

// step counts a search step in builds with the invariants tag (see
// steps_on.go); here it is nothing.
func step() {}
