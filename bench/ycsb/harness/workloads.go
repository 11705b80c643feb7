package harness

import (
	"fmt"
	"strings"
)

// Workload is one of YCSB's core workloads, with its standard properties
// (those of workloads/workload[a-f] in YCSB): records of ten 100-byte
// fields, reads of whole records, updates of one field.
type Workload struct {
	// Name is the letter, "A" to "F".
	Name string
	// Mix says what it does, for tables.
	Mix string
	// Props are its go-ycsb properties.
	Props map[string]string
	// Latest means it picks keys from YCSB's latest distribution (the
	// records inserted last are the most popular) whatever the run's
	// request distribution: workload D.
	Latest bool
}

// proportions returns the operation mix; every proportion is set, since
// go-ycsb's defaults are 0.95 read and 0.05 update, not 0.
func proportions(read, update, insert, scan, rmw string) map[string]string {
	return map[string]string{
		"readproportion":            read,
		"updateproportion":          update,
		"insertproportion":          insert,
		"scanproportion":            scan,
		"readmodifywriteproportion": rmw,
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Workloads lists the core workloads in the order YCSB runs them on one
// load: D and E insert records, so they come last, E after D.
var Workloads = []Workload{
	{Name: "A", Mix: "50% read, 50% update", Props: proportions("0.5", "0.5", "0", "0", "0")},
	{Name: "B", Mix: "95% read, 5% update", Props: proportions("0.95", "0.05", "0", "0", "0")},
	{Name: "C", Mix: "100% read", Props: proportions("1", "0", "0", "0", "0")},
	{Name: "F", Mix: "50% read, 50% read-modify-write", Props: proportions("0.5", "0", "0", "0", "0.5")},
	{Name: "D", Mix: "95% read of the latest, 5% insert", Props: proportions("0.95", "0", "0.05", "0", "0"), Latest: true},
	{Name: "E", Mix: "95% scan (1-100 records), 5% insert", Props: with(proportions("0", "0", "0.05", "0.95", "0"),
		"minscanlength", "1", "maxscanlength", "100", "scanlengthdistribution", "uniform")},
}

// LookupWorkload returns the workload named name ("a" or "A").
func LookupWorkload(name string) (Workload, error) {
	for _, w := range Workloads {
		if strings.EqualFold(w.Name, name) {
			return w, nil
		}
	}
	return Workload{}, fmt.Errorf("unknown workload %q (A to F)", name)
}

// Distributions are the request distributions a run may ask for.
var Distributions = []string{"zipfian", "uniform"}

// Distribution is the request distribution w uses in a run asking for
// dist.
func (w Workload) Distribution(dist string) string {
	if w.Latest {
		return "latest"
	}
	return dist
}
