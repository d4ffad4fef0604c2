# Conveyor — the two commands are `make demo` and `make test`.
SHELL      := /bin/bash
GO         ?= go
# A patched toolchain from the Go module proxy: go1.26.8 has eleven standard
# library vulnerabilities that Conveyor's code reaches (govulncheck below).
# A machine starts on its own Go and ignores go.mod's toolchain line, so the
# version is exported here, in .ci/run and in the README.
export GOTOOLCHAIN := go1.27.3
TOOLS      := $(CURDIR)/.tools
export CONVEYOR_TOOLS := $(TOOLS)
FUNCTIONS  := $(notdir $(patsubst %/,%,$(wildcard functions/*/)))
# Each fuzz target runs this long in `make test` (iterations keep it
# deterministic on a busy machine) and FUZZTIME_LONG in `make fuzz`.
FUZZTIME      ?= 2000x
FUZZTIME_LONG ?= 60s
TEST_FLAGS    ?= -count=1 -timeout 30m

.PHONY: all build test unit fuzz bench demo lint clean tools release image FORCE
comma := ,
empty :=
space := $(empty) $(empty)

all: lint test

## build: every functions/* as an arm64 Lambda bootstrap, zipped under build/
build: $(FUNCTIONS:%=build/%.zip)

build/%.zip: FORCE
	@mkdir -p build/$*
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w -buildid=' -o build/$*/bootstrap ./functions/$*
	$(GO) run ./infra/lambdazip -o $@ build/$*/bootstrap

## release: static conveyor binaries for RELEASE_PLATFORMS under dist/, stamped with VERSION, and their SHA-256 sums
VERSION           ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 darwin/arm64
release:
	@rm -rf dist && mkdir -p dist
	@set -e; for p in $(RELEASE_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; out=dist/conveyor-$(VERSION)-$$os-$$arch; \
	  echo "building $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=true -ldflags='-s -w -buildid= -X main.version=$(VERSION)' -o $$out ./cmd/conveyor; \
	done
	@cd dist && if command -v sha256sum >/dev/null; then sha256sum conveyor-* > SHA256SUMS; else shasum -a 256 conveyor-* > SHA256SUMS; fi
	@cat dist/SHA256SUMS

## image: Conveyor's own image (`conveyor dev` as a service) for IMAGE_PLATFORMS, built daemonless by
## `conveyor build` itself into the registry repository IMAGE, or into the OCI layout IMAGE_LAYOUT without
## one; prints only the reference (repo@sha256:…), so `ref=$$(make -s image IMAGE=…)` composes
IMAGE           ?=
IMAGE_LAYOUT    ?= bin/conveyor-image
IMAGE_CONTEXT   ?= bin/image
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
CA_BUNDLE       ?= /etc/ssl/certs/ca-certificates.crt
IMAGE_SOURCE    ?= https://github.com/conveyor-gitops/conveyor
image: bin/conveyor
	@rm -rf $(IMAGE_CONTEXT) && mkdir -p $(IMAGE_CONTEXT)/data
	@set -e; for p in $(IMAGE_PLATFORMS); do \
	  arch=$${p#*/}; echo "building $(IMAGE_CONTEXT)/linux-$$arch/conveyor" >&2; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -buildvcs=true -ldflags='-s -w -buildid= -X main.version=$(VERSION)' -o $(IMAGE_CONTEXT)/linux-$$arch/conveyor ./cmd/conveyor; \
	done
	@cp $(CA_BUNDLE) $(IMAGE_CONTEXT)/ca-certificates.crt
	@./bin/conveyor build --dockerfile infra/container/Dockerfile --context $(IMAGE_CONTEXT) \
	  --platform $(subst $(space),$(comma),$(strip $(IMAGE_PLATFORMS))) \
	  --revision $$(git rev-parse HEAD) --created $$(git log -1 --format=%cI) --source $(IMAGE_SOURCE) \
	  $(if $(IMAGE),--push $(IMAGE),--oci-layout $(IMAGE_LAYOUT))

## tools: the pinned servers and CLIs the tests run (installed under .tools/)
tools:
	@bash test/tools/install.sh

## test: every test, with the tools they need, and a short run of every fuzz target
test: tools lint
	$(GO) test $(TEST_FLAGS) ./...
	@bash test/tools/fuzz.sh $(FUZZTIME)

## fuzz: every fuzz target for longer
fuzz:
	@bash test/tools/fuzz.sh $(FUZZTIME_LONG)

## bench: the benchmarks whose numbers the closing notes report
bench: tools
	$(GO) test -run '^$$' -bench Ingress -benchtime 20000x ./shared/local/
	$(GO) test -run '^$$' -bench 'Build$$' -benchtime 3x ./shared/imagebuild/
	$(GO) test -run '^$$' -bench BuildAttested -benchtime 3x ./shared/attest/
	$(GO) test -run '^$$' -bench BuildVsCrane -benchtime 3x ./test/
	$(GO) test -run '^$$' -bench 'Propose$$' -benchtime 5x ./shared/gitops/
	$(GO) test -run '^$$' -bench ProposeAtScale -benchtime 5x ./shared/gitops/
	$(GO) test -run '^$$' -bench Reaction -benchtime 50x ./test/
	$(GO) test -run '^$$' -bench 'Burst$$' -benchtime 1x ./test/
	$(GO) test -run '^$$' -bench ColdStart -benchtime 1x ./test/
	$(GO) test -run '^$$' -bench LambdaCost -benchtime 1x ./test/

## demo: the pipeline end to end on embedded defaults; leaves ./bin/conveyor to look around with
demo: bin/conveyor
	./bin/conveyor demo

## bin/conveyor: the operator CLI for this machine
bin/conveyor: FORCE
	$(GO) build -o bin/conveyor ./cmd/conveyor

## lint: gofmt, go vet, and govulncheck against an offline database (fails on any called vulnerability)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@bash test/tools/install-vuln.sh
	$(TOOLS)/bin/govulncheck -db file://$(TOOLS)/vulndb/current ./...

clean:
	rm -rf build bin dist .conveyor

FORCE:

# make localstack-up / localstack-e2e, for users with Docker.
-include localstack/Makefile.inc
