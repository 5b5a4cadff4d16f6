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
cleanup() { scripts/postgres.sh remove "$tmp/pg" || true; rm -rf "$tmp"; }
trap cleanup EXIT
CASEGATE_PG_FSYNC=on scripts/postgres.sh start "$tmp/pg" "$port"
bin=${CASEGATE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}

go build -o "$tmp/casegate" ./cmd/casegate
url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
go run ./bench -pg "$url" -casegate "$tmp/casegate" -pgbin "$bin" ${BENCH_FLAGS:-}

# Scenarios 3 and 5 run as the scaled-up forms of their tests, which own
# the Dovecot and sweeper set-up; their measured lines join the report.
case " ${BENCH_FLAGS:-} " in *" -quick "*|*" -only "*) exit 0 ;; esac
scripts/install-deps.sh dovecot-imapd
report=bench/results/latest.md
{
	echo
	echo "## 3. IMAP drain (10,000 messages in a Dovecot mailbox; filed, acknowledged and moved)"
	echo
	CASEGATE_TEST_DATABASE_URL="$url" CASEGATE_IMAP_BACKLOG=10000 \
		go test -count=1 -timeout 30m -run '^TestIMAPBacklogDrains$' -v ./mailin 2>&1 |
		grep -E 'seeded|drained|^(ok|FAIL|---)' | sed 's/^ *imap_test.go:[0-9]*: /    /'
	echo
	echo "Target: ≥ 500 messages/s."
	echo
	echo "## 5. Escalation sweep (1,000,000 open cases, 10,000 due timers)"
	echo
	CASEGATE_TEST_DATABASE_URL="$url" CASEGATE_SWEEP_SCALE=1 \
		go test -count=1 -timeout 60m -run '^TestSweepScale$' -v ./threads 2>&1 |
		grep -E 'loaded|sweep|Index|Execution|^(ok|FAIL|---)' | sed 's/^ *sweep_scale_test.go:[0-9]*: /    /'
	echo
	echo "Targets: 10,000 due timers fired in ≤ 10 s; an empty sweep ≤ 5 ms."
} | tee -a "$report"
