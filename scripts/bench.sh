#!/usr/bin/env bash
# make bench: start a PostgreSQL of its own (durable settings: fsync and
# synchronous_commit on; pg_stat_statements loaded, to count the gateway's
# statements), build casegate, run every benchmark scenario and write
# bench/results/<time>.{md,json} and latest.{md,json}.
#   BENCH_FLAGS=-quick   a smoke run;  BENCH_FLAGS="-only smtp,ceiling"
#
# Packages: dovecot-imapd for the IMAP drain (scenario 3, a private
# Dovecot), postfix for smtp-source and the private Postfix of scenario 9.
# install-deps.sh never lets a package start its service; the bench starts
# and stops its own instances.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh dovecot-imapd postfix
tmp=$(mktemp -d /tmp/casegate-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { scripts/postgres.sh remove "$tmp/pg" || true; rm -rf "$tmp"; }
trap cleanup EXIT
CASEGATE_PG_FSYNC=on CASEGATE_PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements" \
	scripts/postgres.sh start "$tmp/pg" "$port"
bin=${CASEGATE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}

go build -o "$tmp/casegate" ./cmd/casegate
url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
PATH="$PATH:/usr/sbin" go run ./bench -pg "$url" -casegate "$tmp/casegate" -pgbin "$bin" ${BENCH_FLAGS:-}
