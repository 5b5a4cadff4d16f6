#!/usr/bin/env bash
# A throwaway PostgreSQL cluster in a directory of its own.
#   postgres.sh start DIR PORT   initdb when DIR is new, then start on 127.0.0.1:PORT
#   postgres.sh stop DIR         stop it (fast shutdown)
# Prints nothing on success; the server log is DIR/log. PostgreSQL refuses to
# run as root, so as root the cluster belongs to the postgres user.
set -euo pipefail

cmd=${1:?usage: postgres.sh start DIR PORT | stop DIR}
dir=${2:?directory required}
bin=${CASEGATE_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -n "$bin" ] || bin=$(dirname "$(command -v initdb)")

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
	port=${3:?port required}
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir"
		# The postgres user must be able to reach the directory.
		d=$dir; while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
	fi
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=${CASEGATE_PG_FSYNC:-on}" >/dev/null ||
		{ tail -n 20 "$dir/log" >&2; exit 1; }
	;;
stop)
	[ -f "$dir/data/postmaster.pid" ] || exit 0
	as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	;;
*)
	echo "usage: postgres.sh start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
