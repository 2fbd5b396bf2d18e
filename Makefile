# krust: the two commands a user needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
DATA_DIR ?= /var/lib/krust
ARGS ?=

.PHONY: run test deps deps-test build build-release lint fmt bench

deps:
	@scripts/install-deps.sh run

deps-test:
	@scripts/install-deps.sh test

build-release: deps
	$(CARGO) build --release -p krust

build:
	$(CARGO) build -p krust

## Build and start a single-node cluster on the embedded datastore.
run: build-release
	@echo
	@echo "Starting krust with data in $(DATA_DIR)."
	@echo "In another terminal, once it says it is ready:"
	@echo "    export KUBECONFIG=$(DATA_DIR)/kubeconfig.yaml"
	@echo "    kubectl get namespaces"
	@echo
	./target/release/krust server --data-dir $(DATA_DIR) $(ARGS)

## Install what the tests need, build, and run every test.
test: deps-test
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) build -p krust
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
