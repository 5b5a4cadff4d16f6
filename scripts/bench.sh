#!/usr/bin/env bash
# make bench: start a PostgreSQL of its own (durable settings: fsync and
# synchronous_commit on), build casegate, run every benchmark scenario and
# write bench/results/<time>.{md,json} and latest.{md,json}.
#   BENCH_FLAGS=-quick   a smoke run;  BENCH_FLAGS="-only smtp,ceiling"
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
tmp=$(mktemp -d /tmp/casegate-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { scripts/postgres.sh stop "$tmp/pg" || true; rm -rf "$tmp"; }
trap cleanup EXIT
CASEGATE_PG_FSYNC=on scripts/postgres.sh start "$tmp/pg" "$port"
bin=${CASEGATE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}

go build -o "$tmp/casegate" ./cmd/casegate
go run ./bench -pg "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable" \
	-casegate "$tmp/casegate" -pgbin "$bin" ${BENCH_FLAGS:-}
