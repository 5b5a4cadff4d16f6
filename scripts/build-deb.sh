#!/usr/bin/env bash
# make deb: build dist/casegate_<version>_<arch>.deb with Debian's own
# dpkg-deb from a staging tree laid out by make install PREFIX=/usr, plus
# the control file, conffiles and maintainer scripts of packaging/debian.
# DEB_VERSION overrides the version (default: from git), DEB_OUT the
# directory the package goes to (default: dist).
set -euo pipefail
cd "$(dirname "$0")/.."

version=${DEB_VERSION:-}
if [ -z "$version" ]; then
	if git describe --tags --exact-match >/dev/null 2>&1; then
		version=$(git describe --tags --exact-match | sed 's/^v//')
	elif date=$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null); then
		version="0.1.0~git$date.$(git rev-parse --short=12 HEAD)"
	else
		version=0.1.0
	fi
fi
arch=$(dpkg --print-architecture)

stage=$(mktemp -d "${TMPDIR:-/tmp}/casegate-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg="$stage/casegate"

# A static binary (the package depends on no C library), without its
# symbol table and debug information, as Debian ships binaries.
CGO_ENABLED=0 make -s install PREFIX=/usr DESTDIR="$pkg" LDFLAGS="-s -w" >/dev/null

# Debian's places: compressed man pages and docs, a copyright file.
gzip -9n "$pkg/usr/share/man/man8/casegate.8" "$pkg/usr/share/man/man5/casegate.toml.5"
gzip -9n "$pkg/usr/share/doc/casegate/README.md"
cat >"$pkg/usr/share/doc/casegate/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: casegate
Comment: Built from the casegate source tree by make deb.
COPYRIGHT
# The unit's documentation is the packaged README.
sed -i 's|file:///usr/share/doc/casegate/README.md|file:///usr/share/doc/casegate/README.md.gz|' "$pkg/usr/lib/systemd/system/casegate.service"
# The configuration is the package's conffile, root:root until postinst
# gives it to the casegate group.
chmod 0640 "$pkg/etc/casegate/casegate.toml"
chmod 0755 "$pkg/etc/casegate"

mkdir -p "$pkg/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed "s/@VERSION@/$version/; s/@ARCH@/$arch/; s/@SIZE@/$size/" packaging/debian/control.in >"$pkg/DEBIAN/control"
echo /etc/casegate/casegate.toml >"$pkg/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$pkg/DEBIAN/"
(cd "$pkg" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"

outdir=${DEB_OUT:-dist}
mkdir -p "$outdir"
out="$outdir/casegate_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >/dev/null
echo "$out"
