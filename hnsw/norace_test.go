//go:build !race

package hnsw

const (
	raceEnabled = false
	testN       = 20000
	testDim     = 64
	testQueries = 200
	testHardN   = testN
	testSmallN  = 2000
)
