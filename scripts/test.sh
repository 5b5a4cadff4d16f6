#!/usr/bin/env bash
# make test: install what the tests need, start a throwaway PostgreSQL, run
# every test, tear down. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

tmp=$(mktemp -d /tmp/casegate-test.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55433)
cleanup() { scripts/postgres.sh stop "$tmp/pg" || true; rm -rf "$tmp"; }
trap cleanup EXIT

# Tests may lose data on an OS crash: fsync off makes them faster. The
# invariants under test (commit before 250) do not depend on it.
CASEGATE_PG_FSYNC=off scripts/postgres.sh start "$tmp/pg" "$port"
export CASEGATE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"

go vet ./...
export CASEGATE_CORPUS_SCORECARD="$tmp/corpus-scorecard.txt"
go test -count=1 -timeout 20m ${GOTESTFLAGS:-} ./...
cat "$CASEGATE_CORPUS_SCORECARD" 2>/dev/null || true
