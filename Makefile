# stevedore: `make demo` runs the main flow end to end locally; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := build
SCRIPTS := $(wildcard scripts/*.sh) $(wildcard orb/src/scripts/*.sh) .ci/run
VERSION = $(shell bash scripts/version.sh)
PY := .venv/bin/python

.PHONY: build release dist orb orb-check deps lint fmt test demo bench sandbox

build:
	cargo build

release:
	cargo build --release

# Release archives (static, this machine's architecture) with .sha256 files and SHA256SUMS.
dist: deps
	bash scripts/dist.sh

# The packed orb, with the version and the checksums of dist/ in it.
orb: dist
	$(PY) scripts/orbtool.py pack --version $(VERSION) --checksums dist/v$(VERSION)/SHA256SUMS -o dist/orb.yml

# The orb's checks: review rules, the SchemaStore CircleCI schema (packed orb and our own
# config), yamllint, and the scripts' bats tests (which run the scripts with the debug helper).
orb-check: deps
	cargo build --workspace --all-targets
	$(PY) scripts/orbtool.py review
	$(PY) scripts/orbtool.py review-config .circleci/config.yml .circleci/test-deploy.yml docs/migrating/*.yml
	$(PY) scripts/orbtool.py pack --version $(VERSION) -o target/orb-check.yml
	.venv/bin/check-jsonschema --builtin-schema vendor.circle-ci target/orb-check.yml .circleci/config.yml .circleci/test-deploy.yml docs/migrating/*.yml
	.venv/bin/yamllint -c .yamllint.yml orb/src target/orb-check.yml .circleci docs/migrating
	bats tests/orb

deps:
	@bash scripts/install-deps.sh

fmt:
	cargo fmt --all

lint: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	shellcheck $(SCRIPTS)
	python3 scripts/check_house.py

# Every check (lint, the orb's checks, the release archive, unit and integration tests; the
# sandbox's scenarios twice: tasks simulated, and as real containers where a Docker engine
# answers), then a summary of what ran, passed and was skipped.
test: deps
	@bash scripts/test.sh

demo: deps
	@ls target/*-unknown-linux-musl/release/stevedore >/dev/null 2>&1 || \
	  echo "make demo: first run on this machine: compiling the static release binary and the debug build (5 to 7 minutes on 2 cores); later runs start in seconds"
	@$(MAKE) --no-print-directory dist
	cargo build --workspace
	bash scripts/demo.sh

# A sandbox for a person: prints the exports to paste into a shell, serves until Ctrl-C.
sandbox:
	cargo build -p stevedore-sandbox
	target/debug/stevedore-sandbox up

# Separate builds: built together, the sandbox's aws-lc would be unified into the helper's rustls.
bench: deps dist
	cargo build --release -p stevedore
	cargo build --release -p stevedore-sandbox
	bash scripts/bench.sh
