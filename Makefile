# stevedore: `make demo` runs the main flow end to end locally; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := build
SCRIPTS := $(wildcard scripts/*.sh) .ci/run

.PHONY: build release deps lint fmt test demo bench sandbox

build:
	cargo build

release:
	cargo build --release

deps:
	@bash scripts/install-deps.sh

fmt:
	cargo fmt --all

lint: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	shellcheck $(SCRIPTS)

# The sandbox's scenarios run twice: tasks simulated, and as real containers where a Docker
# engine answers.
test: deps lint
	cargo build --workspace
	STEVEDORE_SANDBOX_DOCKER=off cargo test --workspace --all-targets
	if docker info >/dev/null 2>&1; then \
	  STEVEDORE_SANDBOX_DOCKER=on cargo test -p stevedore-sandbox --test it scenarios; \
	else echo "no Docker engine: the Docker-mode scenarios did not run"; fi

demo: deps
	cargo build --workspace
	bash scripts/demo.sh

# A sandbox for a person: prints the exports to paste into a shell, serves until Ctrl-C.
sandbox:
	cargo build -p stevedore-sandbox
	target/debug/stevedore-sandbox up

bench: deps
	cargo build --release --workspace
	bash scripts/bench.sh
