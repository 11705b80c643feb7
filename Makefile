# The commands a newcomer runs. `make test` is what CI runs.
GO        ?= go
FUZZTIME  ?= 200000x
# make test: how many times the vector churn tests run without -race.
STRESS    ?= 50
STATICCHECK_VERSION ?= v0.8.2

# make bench: the peer comparison. BENCH picks the benchmarks (BENCH=. for
# all of them, durability and history included); the suite runs BENCH_RUNS
# times, each in a fresh process, so a burst of other work on the machine
# hits one run of every peer rather than every run of one peer.
BENCH      ?= ^Benchmark(Put|Get|Mix90|Scan100|AgentStep|StrictCommit|VectorSearch)$$
BENCH_RUNS ?= 5
BENCHTIME  ?= 1s
# make ycsb: flags for go run ./cmd/ycsb in bench/ycsb, e.g. '-records 40000
# -ops 4000' (the whole matrix at a 25th of the size: under a minute).
YCSB_FLAGS ?=
# make perfcheck: flags for go run ./perfcheck (e.g. -scale 0.1 -vectors 10000).
PERFCHECK_FLAGS ?=
# make profile: the perfcheck case to profile, and where the profiles go.
PROFILE_CASE ?= agent-step
PROFILE_DIR  ?= perfcheck/prof

.PHONY: test bench ycsb lint fuzz demo perfcheck profile mutants readme-check

# Besides the race-enabled run, some tests only mean something without
# -race: the race detector allocates (allocation counts), slows the vector
# graph's background work into a different schedule (the churn stress),
# and hnsw shrinks its data under it (filtered searches would always take
# the exact path). bench/ has tests of its own (peers agree, exact top-k);
# bench/ycsb's tests check its database bindings against a model; each
# adapters/ module's tests drive its framework's own code; compat/mcp-memory
# sends the same calls to inmem serve --mcp and to the MCP reference memory
# server (Node.js and npm; the packages come from package-lock.json); uitest
# drives the run inspector in Debian's Chromium (apt-get install chromium).
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 ./arena ./hnsw   # arena's Linux memory mapping; hnsw at full size
	$(GO) test -count=1 -run 'Allocs' . ./occ ./wal
	$(GO) test -count=1 -tags invariants ./skiplist   # walk lengths, counted
	$(GO) test -count=1 -run 'TestReclaimBound|TestReclaimRetained' .   # millions of writes: too slow under -race
	$(GO) test -count=$(STRESS) -run 'TestVectorChurnReopen$$|TestVectorVacuumConcurrent$$' .
	$(GO) test -count=$(STRESS) -run 'TestInsertDuringVacuum' ./hnsw
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd bench/ycsb && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd adapters/eino && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd adapters/langchaingo && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd adapters/genkit && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd compat/mcp-memory && npm ci --no-audit --no-fund --loglevel=error && GO=$(GO) node compare.mjs
	cd uitest && $(GO) vet ./... && $(GO) test -race -count=1 ./...

# Raw results in bench/bench.out (benchstat reads it); the table on stdout.
bench:
	cd bench && $(GO) test -c -o bench.test . && rm -f bench.out && \
	for i in $$(seq $(BENCH_RUNS)); do \
		echo "== run $$i of $(BENCH_RUNS)" >&2; \
		./bench.test -test.run '^$$' -test.bench '$(BENCH)' -test.benchmem -test.benchtime $(BENCHTIME) -test.count 1 >> bench.out || { cat bench.out; exit 1; }; \
	done && $(GO) run ./cmd/table < bench.out

# YCSB workloads A-F against inmem and its peers (bench/ycsb, a module of its
# own so go-ycsb's dependencies stay out of bench/): a markdown table on
# stdout, JSON in bench/ycsb/ycsb.json. The defaults take about 20 minutes
# on a 2-core VM.
ycsb:
	cd bench/ycsb && $(GO) run ./cmd/ycsb $(YCSB_FLAGS)

# The latency/throughput gate: exit 1 on a regression against
# perfcheck/targets.json or perfcheck/baseline.json.
perfcheck:
	$(GO) run ./perfcheck $(PERFCHECK_FLAGS)

# CPU, heap, mutex and block profiles and an execution trace of one case.
# Profiling slows the case, so the gate's verdict is not this target's.
profile:
	@mkdir -p $(PROFILE_DIR)
	$(GO) run ./perfcheck -case $(PROFILE_CASE) -baseline none $(PERFCHECK_FLAGS) \
		-cpuprofile $(PROFILE_DIR)/cpu.prof -memprofile $(PROFILE_DIR)/mem.prof \
		-mutexprofile $(PROFILE_DIR)/mutex.prof -blockprofile $(PROFILE_DIR)/block.prof \
		-trace $(PROFILE_DIR)/trace.out; test $$? -le 1
	@echo
	@echo "profiles of $(PROFILE_CASE) in $(PROFILE_DIR)/. Open them with:"
	@echo "  go tool pprof -top -tagfocus case=$(PROFILE_CASE) $(PROFILE_DIR)/cpu.prof   # CPU of the case alone"
	@echo "  go tool pprof -http=: $(PROFILE_DIR)/cpu.prof                     # CPU, in a browser"
	@echo "  go tool pprof -sample_index=alloc_space -top $(PROFILE_DIR)/mem.prof"
	@echo "  go tool pprof -top $(PROFILE_DIR)/mutex.prof"
	@echo "  go tool pprof -top $(PROFILE_DIR)/block.prof"
	@echo "  go tool trace $(PROFILE_DIR)/trace.out"

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd bench && $(GO) vet ./...
	cd bench/ycsb && $(GO) vet ./...
	cd adapters/eino && $(GO) vet ./...
	cd adapters/langchaingo && $(GO) vet ./...
	cd adapters/genkit && $(GO) vet ./...
	cd uitest && $(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...
	cd bench && PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...
	cd bench/ycsb && PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...
	cd adapters/eino && PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...
	cd adapters/langchaingo && PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...
	cd adapters/genkit && PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...
	cd uitest && PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...
	./scripts/importcheck   # imports point down only: see the layers there

# Runs every fuzz target for FUZZTIME each (go test -fuzz takes one target at a
# time). FUZZTIME is a count of inputs ("200000x") by default: Go 1.26's fuzz
# engine can fail a duration-bounded run ("30s") with a bare "context deadline
# exceeded" when the time ends while a worker is mid-input (go.dev/issue/75804,
# fixed in Go 1.27), and a count sets no deadline. A duration-bounded run that
# fails that way, with no failing input written, is run once more.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; \
			for try in 1 2; do \
				out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1); rc=$$?; \
				echo "$$out"; \
				[ $$rc -eq 0 ] && break; \
				if [ $$try -eq 2 ] || echo "$$out" | grep -q 'Failing input written' || \
					! echo "$$out" | grep -q 'context deadline exceeded'; then exit 1; fi; \
				echo "== $$f: the engine's end-of-fuzztime race, no input failed: once more"; \
			done; \
		done; \
	done

demo:
	$(GO) run ./cmd/inmem demo

# Mutation testing: every mutant of a package's code must fail that
# package's tests. MUTANTS picks targets (default: all in scripts/mutants);
# results in mutants.out/. Too slow for CI (see scripts/mutants for times).
MUTANTS ?=
mutants:
	scripts/mutants $(MUTANTS)

# The README tried as a newcomer does: a fresh clone in a temporary
# directory, the demo, the build, every inmem command, the embedding recipe.
readme-check:
	./scripts/readme-check
