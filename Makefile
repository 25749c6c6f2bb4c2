# PGTQ entry points. A fresh machine needs two commands: `make demo` and `make test`.
# With PGTQ_DATABASE_URL set, everything runs against that server; otherwise a throwaway PostgreSQL 15 cluster
# is started from the local binaries (as the postgres OS user when run as root) and removed afterwards.

GO      ?= go
WITHPG  := $(GO) run ./internal/cmd/withpg
PGTAP   := $(wildcard tests/pgtap/*.sql)

.PHONY: test deps check pgtap gotest test-inner demo bench migrate build

## test: install missing packages, vet, then pgTAP and the Go tests against one throwaway cluster
test: deps check
	$(WITHPG) -- $(MAKE) -k --no-print-directory test-inner

test-inner: pgtap gotest

deps:
	@bash scripts/deps.sh

## check: gofmt and go vet
check:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## pgtap: the SQL suite (needs PGTQ_DATABASE_URL; use make test)
pgtap:
	$(GO) run ./internal/cmd/pgtap $(PGTAP)

## gotest: the Go suite (starts its own cluster per package without PGTQ_DATABASE_URL)
gotest:
	$(GO) test -count=1 -timeout 9m ./...

## demo: the end-to-end example on a throwaway cluster
demo: deps
	$(WITHPG) -- $(GO) run ./examples/demo

## bench: the benchmark suite on a cluster with durable settings (BENCH_QUICK=1 for a short run;
## BENCH_DISK=cloud or BENCH_FSYNC_DELAY=1ms: every fsync/fdatasync of the server takes that much longer)
bench: deps
	$(WITHPG) -durable $(if $(BENCH_FSYNC_DELAY),-fsync-delay $(BENCH_FSYNC_DELAY),$(if $(filter cloud,$(BENCH_DISK)),-fsync-delay 1ms)) \
	  -c shared_buffers=1GB -c fsync=on -c synchronous_commit=on -c max_connections=400 \
	  -c shared_preload_libraries=pg_stat_statements -- $(GO) run ./cmd/pgtq-bench $(BENCH_ARGS)

## migrate: apply the schema to DATABASE_URL (or the PG* variables)
migrate:
	$(GO) run ./cmd/pgtq-migrate up

build:
	$(GO) build ./...
