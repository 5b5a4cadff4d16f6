# casegate — see README.md. `make run` and `make test` install what they need.
GO ?= go

.PHONY: all build run test clean install

all: build

build:
	$(GO) build -o bin/casegate ./cmd/casegate

run:
	scripts/dev-run.sh

test:
	scripts/test.sh

clean:
	rm -rf bin
	@echo "var/ (the make run database and Maildir) is kept; remove it by hand."

# Benchmarks (not part of make test): see README "Performance".
.PHONY: bench
bench:
	scripts/bench.sh
# make install [PREFIX=/usr/local] [DESTDIR=]: the binary, the systemd unit,
# the sysusers/tmpfiles snippets, the man pages, the README, the alerting
# rules and dashboard, all under PREFIX, and an example configuration in
# /etc/casegate (the unit reads /etc/casegate/casegate.toml whatever the
# prefix). An existing /etc/casegate/casegate.toml is never overwritten.
# Without DESTDIR it also creates the casegate user and directories and
# reloads systemd; it never enables or starts the service.
PREFIX ?= /usr/local
BINDIR := $(PREFIX)/bin
LIBDIR := $(PREFIX)/lib
UNITDIR := $(LIBDIR)/systemd/system
MANDIR := $(PREFIX)/share/man
DOCDIR := $(PREFIX)/share/doc/casegate
DATADIR := $(PREFIX)/share/casegate
LDFLAGS ?=
install:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/casegate ./cmd/casegate
	install -D -m 0755 bin/casegate $(DESTDIR)$(BINDIR)/casegate
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(LIBDIR)/sysusers.d $(DESTDIR)$(LIBDIR)/tmpfiles.d
	sed 's|/usr/local/bin/casegate|$(BINDIR)/casegate|g; s|/usr/local/share/doc/casegate|$(DOCDIR)|g' \
		systemd/casegate.service > $(DESTDIR)$(UNITDIR)/casegate.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/casegate.service
	install -m 0644 systemd/casegate.sysusers $(DESTDIR)$(LIBDIR)/sysusers.d/casegate.conf
	install -m 0644 systemd/casegate.tmpfiles $(DESTDIR)$(LIBDIR)/tmpfiles.d/casegate.conf
	install -D -m 0644 man/casegate.8 $(DESTDIR)$(MANDIR)/man8/casegate.8
	install -D -m 0644 man/casegate.toml.5 $(DESTDIR)$(MANDIR)/man5/casegate.toml.5
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -D -m 0644 etc/casegate.example.toml $(DESTDIR)$(DOCDIR)/casegate.example.toml
	install -d $(DESTDIR)$(DATADIR)/monitoring
	install -m 0644 monitoring/alerts.yml monitoring/alerts_test.yml monitoring/dashboard.json $(DESTDIR)$(DATADIR)/monitoring/
	install -d -m 0750 $(DESTDIR)/etc/casegate
	test -e $(DESTDIR)/etc/casegate/casegate.toml || install -m 0640 etc/casegate.example.toml $(DESTDIR)/etc/casegate/casegate.toml
	@if [ -z "$(DESTDIR)" ]; then \
		systemd-sysusers $(LIBDIR)/sysusers.d/casegate.conf && \
		systemd-tmpfiles --create $(LIBDIR)/tmpfiles.d/casegate.conf && \
		chgrp casegate /etc/casegate/casegate.toml && \
		{ test -e /etc/casegate/staff-secret || \
		  { install -m 0640 -g casegate /dev/null /etc/casegate/staff-secret && \
		    head -c 32 /dev/urandom | base64 > /etc/casegate/staff-secret; }; } && \
		{ ! [ -d /run/systemd/system ] || systemctl daemon-reload; }; \
	fi
	@echo "installed; edit /etc/casegate/casegate.toml, then: casegate check-config && systemctl enable --now casegate"

# make deb: a Debian package in dist/, built by Debian's own dpkg-deb from a
# staging tree (scripts/build-deb.sh; DEB_VERSION= overrides the version).
.PHONY: deb
deb:
	scripts/build-deb.sh
