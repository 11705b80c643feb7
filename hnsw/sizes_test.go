package hnsw

import (
	"flag"
	"os"
	"testing"
)

// Test data sizes. Full size without -race. The race detector slows the
// build by an order of magnitude, and mutation testing (-short) runs the
// suite once per mutant, so both use smaller sets that exercise the same
// code paths; -short keeps filtered searches of half the nodes on the
// graph (more ids than bruteForceLimit), which the race sizes do not.
var (
	testN       = 20000
	testDim     = 64
	testQueries = 200
	testHardN   = 20000 // TestRecallIsotropic
	testSmallN  = 2000  // round-trip and vacuum-style tests
	testGraphs  = 300   // TestReconnectReplacesLinks
)

func TestMain(m *testing.M) {
	flag.Parse()
	switch {
	case raceEnabled:
		testN, testDim, testQueries, testHardN, testSmallN, testGraphs = 3000, 32, 60, 1500, 600, 60
	case testing.Short():
		testN, testDim, testQueries, testHardN, testSmallN, testGraphs = 6000, 32, 60, 3000, 600, 300
	}
	os.Exit(m.Run())
}
