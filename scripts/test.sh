#!/usr/bin/env bash
# The whole test suite, as the README's quick start runs it and CI calls it:
# installs what the tests need (scripts/install-deps.sh), then vet, every
# test with the race detector (fuzz seed corpora included), and a short
# fuzzing pass over every fuzz target (FUZZTIME, default 5s each; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
echo "== go vet"
go vet ./...
# The bench package's harness tests drive the real binary (EDGEVAULT_BIN)
# against the peers at tiny scale.
bindir=$(mktemp -d)
trap 'rm -rf "$bindir"' EXIT
go build -o "$bindir/edgevault" ./cmd/edgevault
export EDGEVAULT_BIN="$bindir/edgevault"
echo "== go test -race"
go test -race -count=1 -timeout 40m ./...
if [ "${FUZZTIME:-5s}" != "0" ]; then
	echo "== fuzz (${FUZZTIME:-5s} per target)"
	./scripts/fuzz.sh "${FUZZTIME:-5s}"
fi
