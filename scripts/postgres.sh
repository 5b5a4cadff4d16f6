#!/usr/bin/env bash
# A throwaway PostgreSQL cluster in a directory of its own.
#   postgres.sh start DIR PORT   initdb when DIR is new, then start on 127.0.0.1:PORT
#   postgres.sh stop DIR         stop it (fast shutdown)
#   postgres.sh remove DIR       stop it and delete DIR (and what it links to)
# Prints nothing on success; the server log is DIR/log. The cluster listens
# on 127.0.0.1:PORT and a socket in DIR only: a host PostgreSQL (port 5432,
# /run/postgresql) is never used or touched.
#
# CASEGATE_PG_FSYNC (default on) sets fsync; CASEGATE_PG_OPTIONS adds
# server options to the start, e.g. "-c shared_preload_libraries=pg_stat_statements"
# (make bench counts statements with it). Both apply when the server starts.
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the
# postgres user. When that user cannot reach DIR (a checkout under a
# private home directory), the cluster lives in a private directory it owns
# under $TMPDIR (or /tmp) and DIR becomes a link to it: no permission
# outside DIR is ever changed.
set -euo pipefail

cmd=${1:?usage: postgres.sh start DIR PORT | stop DIR | remove DIR}
dir=${2:?directory required}
bin=${CASEGATE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -n "$bin" ] || bin=$(dirname "$(command -v initdb)")

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
	port=${3:?port required}
	if [ "$(id -u)" -eq 0 ] && [ ! -e "$dir" ]; then
		mkdir -p "$(dirname "$dir")"
		if runuser -u postgres -- test -x "$(cd "$(dirname "$dir")" && pwd)"; then
			mkdir "$dir"
		else
			private=$(mktemp -d "${TMPDIR:-/tmp}/casegate-pg.XXXXXX")
			ln -s "$private" "$dir"
		fi
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir"
		chmod 0700 "$dir"
		runuser -u postgres -- test -x "$dir" ||
			{ echo "postgres.sh: the postgres user cannot reach $dir; remove it and start again" >&2; exit 1; }
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=${CASEGATE_PG_FSYNC:-on} ${CASEGATE_PG_OPTIONS:-}" >/dev/null ||
		{ tail -n 20 "$dir/log" >&2; exit 1; }
	;;
stop)
	[ -f "$dir/data/postmaster.pid" ] || exit 0
	dir=$(cd "$dir" && pwd -P) # the postgres user may not reach DIR's link, only its target
	as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	;;
remove)
	"$0" stop "$dir" || true
	[ -L "$dir" ] && rm -rf "$(readlink "$dir")"
	rm -rf "$dir"
	;;
*)
	echo "usage: postgres.sh start DIR PORT | stop DIR | remove DIR" >&2; exit 2 ;;
esac
