#!/usr/bin/env bash
# Runs every fuzz target in the module for a while: scripts/fuzz.sh [DURATION]
# (default 30s each). Failing inputs land in testdata/fuzz/ of the package,
# where plain `go test` replays them forever after.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-30s}
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "-- $pkg $target"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
	done
done
