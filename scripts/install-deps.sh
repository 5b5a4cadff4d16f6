#!/usr/bin/env bash
# Installs the Debian packages casegate's development and tests need, when
# they are missing: install-deps.sh [package …]. PostgreSQL is always
# needed; other packages (swaks, dovecot-imapd, …) are named by the caller.
set -euo pipefail

missing=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
	missing+=(postgresql)
fi
for pkg in "$@"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged services; casegate's scripts run their own.
for svc in postgresql dovecot prometheus; do
	$sudo systemctl disable --now "$svc" >/dev/null 2>&1 || true
done
