#!/usr/bin/env bash
# make run: a throwaway PostgreSQL under ./var/pg and the gateway with
# dev/casegate.toml (SMTP on 127.0.0.1:2525, outbound mail into
# ./var/maildir). Ctrl-C stops both; ./var keeps the data for next time.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh swaks
port=${CASEGATE_DEV_PGPORT:-54329}
mkdir -p var
scripts/postgres.sh start var/pg "$port"
trap 'scripts/postgres.sh stop var/pg' EXIT

export CASEGATE_DATABASE_URL="postgres://postgres@127.0.0.1:$port/casegate?sslmode=disable"
psql -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tc "SELECT 1 FROM pg_database WHERE datname='casegate'" | grep -q 1 ||
	psql -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE casegate"

go build -o var/casegate ./cmd/casegate
var/casegate migrate -config dev/casegate.toml
echo "casegate: send a test mail with: swaks --server 127.0.0.1:2525 --to support@support.example.com" >&2
echo "casegate: acknowledgements appear in var/maildir/new/" >&2
var/casegate serve -config dev/casegate.toml
