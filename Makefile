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
# make install [PREFIX=/usr/local] [DESTDIR=]: binary, systemd unit,
# sysusers/tmpfiles, README and an example configuration. An existing
# /etc/casegate/casegate.toml is never overwritten. Without DESTDIR it also
# creates the casegate user and directories and reloads systemd.
PREFIX ?= /usr/local
install:
	$(GO) build -trimpath -o bin/casegate ./cmd/casegate
	install -D -m 0755 bin/casegate $(DESTDIR)$(PREFIX)/bin/casegate
	install -d $(DESTDIR)/etc/systemd/system $(DESTDIR)/usr/lib/sysusers.d $(DESTDIR)/usr/lib/tmpfiles.d
	sed 's|/usr/local/bin/casegate|$(PREFIX)/bin/casegate|g; s|/usr/local/share/doc|$(PREFIX)/share/doc|g' \
		systemd/casegate.service > $(DESTDIR)/etc/systemd/system/casegate.service
	chmod 0644 $(DESTDIR)/etc/systemd/system/casegate.service
	install -m 0644 systemd/casegate.sysusers $(DESTDIR)/usr/lib/sysusers.d/casegate.conf
	install -m 0644 systemd/casegate.tmpfiles $(DESTDIR)/usr/lib/tmpfiles.d/casegate.conf
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/casegate/README.md
	install -D -m 0644 etc/casegate.example.toml $(DESTDIR)$(PREFIX)/share/doc/casegate/casegate.example.toml
	install -d -m 0750 $(DESTDIR)/etc/casegate
	test -e $(DESTDIR)/etc/casegate/casegate.toml || install -m 0640 etc/casegate.example.toml $(DESTDIR)/etc/casegate/casegate.toml
	@if [ -z "$(DESTDIR)" ]; then \
		systemd-sysusers /usr/lib/sysusers.d/casegate.conf && \
		systemd-tmpfiles --create /usr/lib/tmpfiles.d/casegate.conf && \
		chgrp casegate /etc/casegate/casegate.toml && \
		{ test -e /etc/casegate/staff-secret || \
		  { install -m 0640 -g casegate /dev/null /etc/casegate/staff-secret && \
		    head -c 32 /dev/urandom | base64 > /etc/casegate/staff-secret; }; } && \
		systemctl daemon-reload; \
	fi
	@echo "installed; edit /etc/casegate/casegate.toml, then: casegate check-config && systemctl enable --now casegate"
