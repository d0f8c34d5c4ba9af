#!/usr/bin/env bash
# Prints the stevedore package's version from Cargo.toml, the one place every script and the
# Makefile read it from. `cargo pkgid` is no good here: it prints `path+file:///…/stevedore#0.1.0`
# (no `@name`) when the checkout's folder is named like the crate, which a user's clone is.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v cargo >/dev/null 2>&1; then
  meta=$(cargo metadata --no-deps --format-version 1 --offline)
  version=$(printf '%s' "$meta" | grep -o '"name":"stevedore","version":"[^"]*"' | head -n1 | sed 's/.*"version":"\([^"]*\)"/\1/')
else
  # Release jobs run on images without Rust: the [package] section's version line.
  version=$(sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
fi
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]]; then
  echo "version.sh: could not read a semantic version of package stevedore from cargo metadata (got '$version')" >&2
  exit 1
fi
printf '%s\n' "$version"
