package main

// The cold-read case: point reads of runs frozen into the cold tier, with
// the block cache warm. It guards the cold read path itself (the manifest
// lookup, the file's reference count, the block cache, the in-block
// search) rather than the disk: every block it reads is cached, so a
// regression here is the library's, not the device's.
//
// It has no target in targets.json. Targets are absolute durations; the
// cold tier's goal for cached reads is relative (p50 within 2x of a hot
// read's), and a hot read of this data set is not the get case's (1M keys
// against a few thousand), so an absolute bound would be a number read
// off one machine. The baseline's ratios to the reference op gate it.

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/inmem-db/inmem"
)

const (
	coldRuns  = 200 // at scale 1
	coldSteps = 20  // per run, at every scale: the shape of a run stays
	coldOps   = 200_000
)

var coldReadCase = Case{
	Name: "cold-read",
	Doc: "Open (Batched), 200 runs x 20 agent steps (as agent-step writes them), ended, frozen (Runs.Freeze, CompactCold) and " +
		"reclaimed; run.KV().Get of a random step's key of a random cold run, the block cache warm",
	Ops: coldOps,
	Setup: func(env *Env) (func(int) error, func() error, error) {
		// Never frozen by the background freezer: the case freezes them.
		db, err := openDurable(env, "cold-read", inmem.WithColdAfter(-1))
		if err != nil {
			return nil, nil, err
		}
		fail := func(err error) (func(int) error, func() error, error) {
			db.Close()
			return nil, nil, err
		}
		n := env.scaled(coldRuns)
		keys := newKeyBlob(coldSteps)
		runs := make([]*inmem.Run, n)
		for i := range runs {
			r, err := db.BeginRun(inmem.Name("cold " + strconv.Itoa(i)))
			if err != nil {
				return fail(err)
			}
			if err := writeColdSteps(r, keys); err != nil {
				return fail(err)
			}
			if err := r.End(inmem.Completed, ""); err != nil {
				return fail(err)
			}
			if err := db.Runs().Freeze(r.ID()); err != nil {
				return fail(err)
			}
			runs[i] = r
		}
		// Runs.Freeze wrote a file per run; the background freezer would
		// merge them, and a read does not depend on the layout otherwise.
		if err := db.CompactCold(); err != nil {
			return fail(err)
		}
		if _, err := db.Reclaim(); err != nil {
			return fail(err)
		}
		// Warm: every key read twice (the cache admits a block it has seen).
		for range 2 {
			for _, r := range runs {
				for s := range coldSteps {
					if _, err := r.KV().Get(keys.key(s)); err != nil {
						return fail(err)
					}
				}
			}
		}
		if info, err := runs[0].Info(); err != nil || !info.Cold {
			return fail(fmt.Errorf("cold-read: run 0 is not cold (%v)", err))
		}
		rng := rand.New(rand.NewPCG(5, 6))
		type probe struct{ run, step uint32 }
		probes := make([]probe, 1<<16)
		for i := range probes {
			probes[i] = probe{uint32(rng.IntN(n)), uint32(rng.IntN(coldSteps))}
		}
		env.setParams("cold-read", fmt.Sprintf("runs=%d steps=%d", n, coldSteps))
		var buf [keyLen]byte
		return func(i int) error {
			p := probes[i&(len(probes)-1)]
			v, err := runs[p.run].KV().Get(probeKey(&buf, p.step))
			if err == nil && len(v) != len(stepKVValue) {
				err = fmt.Errorf("cold-read: %d-byte value", len(v))
			}
			return err
		}, db.Close, nil
	},
}

// writeColdSteps writes one run's agent steps, each as agent-step's op
// writes it, with step s's KV key keys.key(s).
func writeColdSteps(r *inmem.Run, keys keyBlob) error {
	c, err := r.State().Init("steps", make([]byte, 8))
	if err != nil {
		return err
	}
	root, err := r.Traces().Record(inmem.Span{Kind: inmem.Custom, Name: "agent"})
	if err != nil {
		return err
	}
	val := make([]byte, 8)
	for s := range coldSteps {
		val[0] = byte(s)
		now := time.Now()
		if err := r.Update(func(tx *inmem.Tx) error {
			next, err := writeAgentStep(tx, keys.key(s), c, root, val, now)
			if err == nil {
				c = next
			}
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
