# Integra — `make help` lists the targets.
.DEFAULT_GOAL := help
CARGO ?= cargo
CONFIG ?= config/default.toml

.PHONY: help run build test unit e2e lint fmt services bench soak clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

run: ## Build (release) and start the server on the embedded backends (CONFIG=path to change)
	$(CARGO) run --release -p integra-server -- --config $(CONFIG)

build: ## Build every crate and the server
	$(CARGO) build --workspace --all-targets

test: services ## Run every test: units, behaviour suites on every engine, end to end (twice: embedded, secured), the example
	$(CARGO) test --workspace --no-fail-fast
	INTEGRA_TEST_ENGINES=secured $(CARGO) test -p integra-tests --test e2e -- messages:: alerts:: metrics:: rules:: dashboard::
	$(CARGO) run -q -p integra-services --example embed

services: ## Start what the tests need (Redis: single, cluster, TLS; Tansu: plain, TLS, SASL), installing what is missing
	scripts/services.sh

lint: ## rustfmt, clippy and rustdoc (warnings denied), and the import graph, as CI runs them
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps
	scripts/graph.py

fmt: ## Format the code
	$(CARGO) fmt --all

bench: services ## Run the benchmarks (see BENCHMARKS.md)
	scripts/bench.sh

soak: ## The chaos soak: 10 minutes of mixed load, Redis and the broker killed and restarted (RELIABILITY.md)
	scripts/soak.sh

clean: ## Remove build output
	$(CARGO) clean
