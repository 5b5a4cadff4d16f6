# casegate — see README.md. `make run` and `make test` install what they need.
GO ?= go

.PHONY: all build run test clean

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
