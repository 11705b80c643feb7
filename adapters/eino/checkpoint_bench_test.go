package inmemeino_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/inmem-db/inmem"
)

// mapStore is the in-memory checkpoint store Eino's own tests and
// examples use (v0.7.36 ships none as API): a map behind a lock.
type mapStore struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func (s *mapStore) Get(_ context.Context, id string) ([]byte, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[id]
	return v, ok, nil
}

func (s *mapStore) Set(_ context.Context, id string, cp []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = append([]byte(nil), cp...)
	return nil
}

type cpStore interface {
	Get(context.Context, string) ([]byte, bool, error)
	Set(context.Context, string, []byte) error
}

// BenchmarkCheckPoint is a checkpoint Set and a Get of 1,000 graph
// executions' ids, round robin, with checkpoints of 2 KiB (what a small
// graph's interrupt serializes to, state and inputs included): in-mem's
// store (in memory, and on disk with its default durability) against
// the map.
//
//	cd adapters/eino && go test -run xxx -bench CheckPoint -count 5
func BenchmarkCheckPoint(b *testing.B) {
	cp := make([]byte, 2048)
	for i := range cp {
		cp[i] = byte(i)
	}
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprintf("exec-%04d", i)
	}
	stores := []struct {
		name string
		open func(b *testing.B) cpStore
	}{
		{"map", func(*testing.B) cpStore { return &mapStore{m: map[string][]byte{}} }},
		{"inmem", func(b *testing.B) cpStore {
			db, err := inmem.OpenInMemory()
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return db.CheckPointStore(ns)
		}},
		{"inmem-disk", func(b *testing.B) cpStore {
			db, err := inmem.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return db.CheckPointStore(ns)
		}},
	}
	ctx := context.Background()
	for _, st := range stores {
		for _, op := range []string{"Set", "Get"} {
			b.Run(op+"/"+st.name, func(b *testing.B) {
				s := st.open(b)
				for _, id := range ids {
					if err := s.Set(ctx, id, cp); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					id := ids[i%len(ids)]
					if op == "Set" {
						if err := s.Set(ctx, id, cp); err != nil {
							b.Fatal(err)
						}
						continue
					}
					if _, ok, err := s.Get(ctx, id); err != nil || !ok {
						b.Fatal(ok, err)
					}
				}
			})
		}
	}
}
