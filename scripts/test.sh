#!/usr/bin/env bash
# make test: install what the tests need, start a throwaway PostgreSQL, run
# every test, tear down. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# mutt: staff replies from a real mail client (cmd/casegate); systemd:
# systemd-analyze, -sysusers, -tmpfiles and a private systemd-journald for
# the unit's and the logs' tests; dovecot-imapd: the IMAP poller's tests run
# a real Dovecot; prometheus: promtool tests the alerting rules; chromium:
# the HTML report is rendered in a real browser; man-db: the man pages are
# checked with man itself. (make deb needs only dpkg-deb, which every
# Debian has.)
scripts/install-deps.sh mutt systemd dovecot-imapd prometheus chromium man-db

tmp=$(mktemp -d /tmp/casegate-test.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55433)
cleanup() { scripts/postgres.sh remove "$tmp/pg" || true; rm -rf "$tmp"; }
trap cleanup EXIT

# Tests may lose data on an OS crash: fsync off makes them faster. The
# invariants under test (commit before 250) do not depend on it.
# pg_stat_statements: the bench's smoke test (bench/) counts statements
# as make bench does.
CASEGATE_PG_FSYNC=off CASEGATE_PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements" \
	scripts/postgres.sh start "$tmp/pg" "$port"
export CASEGATE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"

go vet ./...
# A bounded fuzzing run of the inbound parse-and-file path (mail safety);
# crashers land in mailin/testdata/fuzz/ and are re-run by every go test.
# The run is bounded by a count, not a time: when a time limit ends while a
# worker is inside a slow filing, go test reports "context deadline
# exceeded" although nothing failed.
go test -run '^$' -fuzz '^FuzzParseAndFile$' -fuzztime "${CASEGATE_FUZZTIME:-2000x}" ./mailin

export CASEGATE_CORPUS_SCORECARD="$tmp/corpus-scorecard.txt"
status=0
go test -count=1 -timeout 30m ${GOTESTFLAGS:-} ./... 2>&1 | tee "$tmp/test.log" || status=1
cat "$CASEGATE_CORPUS_SCORECARD" 2>/dev/null || true
# Repeat the verdict of every package last, where a reader looks.
echo
grep -E '^(ok|FAIL|---)' "$tmp/test.log" || true
exit $status
