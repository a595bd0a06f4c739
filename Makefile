# Bookstore. `make run` and `make test` need only Go 1.26 or newer: the go
# command downloads the modules, and the generators pinned by go.mod's tool
# directives, by itself.

GO ?= go

# Build and test with Go 1.27.3: the go command fetches it from the module
# proxy on first use (about 76 MB, once). Go 1.26.8, the machines' own, has
# net/http and crypto advisories that govulncheck reports.
export GOTOOLCHAIN ?= go1.27.3

# The version baked into the binary: the commit (with -dirty for local
# changes), or "dev" outside a git checkout or before the first commit.
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# The race detector needs cgo, so a C compiler. Without one, go reports
# CGO_ENABLED=0, and the tests run without -race rather than fail.
RACE := $(if $(filter 1,$(shell $(GO) env CGO_ENABLED)),-race)

# Extra flags for `make run`, e.g. make run ARGS='--addr 127.0.0.1:9090'.
ARGS ?=

.PHONY: build run test generate check-generated lint vet importcheck spec-lint spec-ogen contract vulncheck fuzz sdk client-go clean image image-check

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/bookstore ./cmd/bookstore

run: build
	./bin/bookstore serve $(ARGS)

# Does not depend on generate: gen/ is committed, and building sqlc the
# first time takes minutes.
#
# Every suite runs on SQLite. With BOOKSTORE_TEST_POSTGRES_URL, the URL of a
# PostgreSQL database the tests may create schemas in (.ci/run makes one),
# the first pass also runs the PostgreSQL store contract and the replica and
# fault tests (TestPostgres*), and a second pass runs the API and program
# suites again on PostgreSQL (BOOKSTORE_TEST_ENGINE=postgres).
PG_SUITES := ./internal/httpapi ./cmd/bookstore

test:
	BOOKSTORE_TEST_ENGINE=sqlite $(GO) test $(RACE) -count=1 ./...
	@if [ -n "$$BOOKSTORE_TEST_POSTGRES_URL" ]; then \
		echo "BOOKSTORE_TEST_ENGINE=postgres $(GO) test $(RACE) -count=1 -skip '^TestPostgres' $(PG_SUITES)"; \
		BOOKSTORE_TEST_ENGINE=postgres $(GO) test $(RACE) -count=1 -skip '^TestPostgres' $(PG_SUITES); \
	else \
		echo "PostgreSQL tests skipped: set BOOKSTORE_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them"; \
	fi

# Regenerates gen/ from api/openapi.yaml, sql/ and the configs.
generate:
	$(GO) tool oapi-codegen -config oapi-codegen.yaml api/openapi.yaml
	$(GO) tool oapi-codegen -config oapi-codegen-client.yaml api/openapi.yaml
	$(GO) tool sqlc generate

# Fails when the committed gen/ is not what generate writes: changed,
# deleted or new (untracked) files alike.
check-generated: generate
	@git diff --exit-code -- gen || \
		{ echo 'gen/ differs from what make generate writes: run make generate and commit gen/' >&2; exit 1; }
	@if [ -n "$$(git status --porcelain -- gen)" ]; then \
		git status --porcelain -- gen >&2; \
		echo 'gen/ has files git does not track: run make generate and commit gen/' >&2; \
		exit 1; \
	fi

lint: vet check-generated importcheck spec-lint spec-ogen

vet:
	$(GO) vet ./...

# The import rule of ARCHITECTURE.md ("The import rule").
importcheck:
	$(GO) run ./cmd/importcheck

# The spec against Redocly's recommended rules, every warning an error, and
# the RFC 9457 problem-details rule (redocly.yaml). Needs npx (Node.js).
REDOCLY_VERSION := 2.77.0
spec-lint:
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		npx --yes @redocly/cli@$(REDOCLY_VERSION) lint api/openapi.yaml

# A second Go generator, ogen (pinned in .ci/ogen), must take the spec whole:
# it generates into a scratch module, and the result must pass go vet.
spec-ogen:
	bash .ci/ogen

# The contract suite behind Prism, a third-party validating proxy (pinned
# in .ci/prism, installed from npm into a scratch directory): the real
# binary on a fresh SQLite file, every operation's success and documented
# error paths. A response Prism finds at odds with the spec, or an operation
# of the spec the suite never called, fails it. Needs npm (Node.js).
contract:
	bash .ci/prism

# The TypeScript client (sdk/typescript, @bookstore/client): openapi-typescript
# writes src/schema.ts from the spec, tsc builds dist/ (ESM and .d.ts), npm
# pack makes the tarball, and a scratch project installs it, type-checks
# and runs the README's program and the package's tests against
# bin/bookstore (.ci/clients). Versions are pinned in package-lock.json.
sdk:
	bash .ci/clients ts

# The Go client as README.md tells another module to use it: a scratch
# module outside this repository, a replace line to this checkout, the
# README's program against bin/bookstore (.ci/clients).
client-go:
	bash .ci/clients go

# Every fuzz target for FUZZTIME (default 10s); see .ci/fuzz.
fuzz:
	bash .ci/fuzz

# govulncheck over the module, with the vulnerability database built from
# a pinned golang.org/x/vulndb (see .ci/govulncheck).
vulncheck:
	bash .ci/govulncheck

clean:
	rm -rf bin

# The container image (Containerfile): the static binary on scratch, built
# with podman, else docker (CONTAINER_ENGINE=... to choose). The binary is
# built here and copied in, with the build machine's CA certificates, so the
# build pulls nothing from a registry. IMAGE names it.
IMAGE ?= bookstore:$(VERSION)
CONTAINER_ENGINE ?= $(shell command -v podman || command -v docker)
IMAGE_CONTEXT := bin/image
CA_CERTIFICATES ?= /etc/ssl/certs/ca-certificates.crt
IMAGE_UID := 65532

image:
	@test -n "$(CONTAINER_ENGINE)" || { echo 'make image needs podman or docker' >&2; exit 1; }
	@test -f "$(CA_CERTIFICATES)" || { echo 'make image needs the CA certificates at $(CA_CERTIFICATES) (Debian: apt-get install ca-certificates)' >&2; exit 1; }
	rm -rf $(IMAGE_CONTEXT)
	mkdir -p $(IMAGE_CONTEXT)/rootfs/etc/ssl/certs $(IMAGE_CONTEXT)/rootfs/tmp $(IMAGE_CONTEXT)/data
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS) -s -w' -o $(IMAGE_CONTEXT)/rootfs/bookstore ./cmd/bookstore
	cp $(CA_CERTIFICATES) $(IMAGE_CONTEXT)/rootfs/etc/ssl/certs/ca-certificates.crt
	printf 'root:x:0:0:root:/:/sbin/nologin\nbookstore:x:$(IMAGE_UID):$(IMAGE_UID):bookstore:/data:/sbin/nologin\n' > $(IMAGE_CONTEXT)/rootfs/etc/passwd
	printf 'root:x:0:\nbookstore:x:$(IMAGE_UID):\n' > $(IMAGE_CONTEXT)/rootfs/etc/group
	chmod 1777 $(IMAGE_CONTEXT)/rootfs/tmp
	$(CONTAINER_ENGINE) build -f Containerfile -t $(IMAGE) $(IMAGE_CONTEXT)

# Builds the image and checks it without running a container (see
# .ci/image): its settings, its files, `bookstore version` and `serve`
# answering /healthz from its exported root filesystem.
image-check:
	bash .ci/image

# Performance (issue 6); BENCHMARKS.md explains the figures.
# bench: the load benchmark against the real binary and the bare baseline
# (cmd/loadbench; about two minutes), results in BENCHMARKS.md.
# With BOOKSTORE_DATABASE_URL=postgres://... it runs against PostgreSQL too.
# bench-growth: list, get and q at 1,000 and 1,100,000 books (a few minutes).
# bench-flood: a login flood beside a reader (internal/faults).
# bench-bodies: a flood of large JSON bodies beside a reader (internal/faults).
# bench-micro: the testing.B benchmarks next to the code.
# bench drives list, get, create, login and the baseline with wrk
# (cmd/loadbench/bench.lua; installed from Debian when missing and
# running as root), update and refresh with the Go client; -driver go uses
# the Go client for all. Medians of repeated runs: -repeat 3.
# Flags go in BENCH_FLAGS, e.g. a smoke run: make bench BENCH_FLAGS='-duration 2s -warmup 500ms'.
BENCH_FLAGS ?=

.PHONY: bench bench-growth bench-micro bench-flood bench-bodies wrk

bench: wrk
	$(GO) run ./cmd/loadbench $(BENCH_FLAGS)

wrk:
	@command -v wrk >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; \
		else echo 'make bench needs wrk: apt-get install -y wrk (as root), or BENCH_FLAGS=-driver go' >&2; exit 1; fi; }

bench-growth:
	$(GO) run ./cmd/loadbench -growth $(BENCH_FLAGS)

# 200 clients sending wrong passwords while a logged-in user lists books:
# the user's p50/p99, the flood's rate and the server's peak RSS.
bench-flood:
	$(GO) test -run '^$$' -bench LoginFlood -benchtime 1x ./internal/faults

# 32 clients sending 1 MiB many-values JSON bodies (with and without a
# token) for 20 s while a logged-in user lists books: the user's p50/p99,
# the statuses and the server's peak RSS.
bench-bodies:
	$(GO) test -run '^$$' -bench BodyFlood -benchtime 1x ./internal/faults

bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
