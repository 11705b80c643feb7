//go:build race

package hnsw

// The race detector slows the build by an order of magnitude; these sizes
// keep the package under a minute while exercising the same code paths.
const (
	raceEnabled = true
	testN       = 3000
	testDim     = 32
	testQueries = 60
	testHardN   = 1500 // TestRecallIsotropic
	testSmallN  = 600  // round-trip and vacuum-style tests
)
