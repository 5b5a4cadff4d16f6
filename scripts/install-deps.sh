#!/usr/bin/env bash
# Installs the Debian packages casegate's development and tests need, when
# they are missing: install-deps.sh [package …]. PostgreSQL's server
# binaries are always needed; other packages (swaks, dovecot-imapd, …) are
# named by the caller.
#
# It only installs. casegate's scripts run every service they need as a
# private instance (own port or socket, data under ./var or a temporary
# directory), so a package installed here must not start its service:
# while apt runs, a policy-rc.d that denies every start is put in place,
# unless the machine already has one (a container's, or the admin's), which
# is then left as it is. Nothing else on the host is started, stopped,
# enabled, disabled or masked.
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
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	# invoke-rc.d asks this script before starting a service; 101 = "not allowed".
	printf '#!/bin/sh\n# casegate install-deps.sh: no service starts while it installs packages.\nexit 101\n' |
		$sudo tee "$policy" >/dev/null
	$sudo chmod 0755 "$policy"
	trap '$sudo rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
