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

.PHONY: build run test generate check-generated lint vet importcheck vulncheck clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/bookstore ./cmd/bookstore

run: build
	./bin/bookstore serve $(ARGS)

# Does not depend on generate: gen/ is committed, and building sqlc the
# first time takes minutes.
test:
	$(GO) test $(RACE) -count=1 ./...

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

lint: vet check-generated importcheck

vet:
	$(GO) vet ./...

# The dependency rule of STYLE.md ("Imports flow one way").
importcheck:
	$(GO) run ./internal/tools/importcheck

# govulncheck over the module, with the vulnerability database built from
# a pinned golang.org/x/vulndb (see .ci/govulncheck).
vulncheck:
	bash .ci/govulncheck

clean:
	rm -rf bin
