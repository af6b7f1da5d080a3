# candlelight: the two commands a user types are `make run` and `make test`.
# Every target installs what it is missing, and only that, so both work on a
# fresh machine (Debian/Ubuntu with Rust, Node.js, Python 3 and pip).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

WASM_BINDGEN_VERSION := 0.2.130
PORT ?= 7860
MODEL ?= models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
TEST_MODEL := models/SmolLM2-135M-Instruct.Q4_1.gguf
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Build the server for this machine's CPU (the wasm build is unaffected: it
# has its own target). `make run PORTABLE=1` builds a binary that runs on any
# x86-64 machine.
ifeq ($(PORTABLE),)
ifeq ($(shell uname -m),x86_64)
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS ?= -C target-cpu=native
endif
endif

# `make run CUDA=1` builds with the `cuda` feature (a CUDA toolkit must be
# installed; candle reads the GPU's compute capability from nvidia-smi) and
# runs the model on the GPU.
ifeq ($(CUDA),1)
SERVER_FEATURES := --features server/cuda
DEVICE ?= cuda
endif
DEVICE ?= cpu

# Installing cargo tools is ~2x faster without LTO; they are build tools only.
TOOL_INSTALL_ENV := CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16

VENV := .venv

.PHONY: run test build site dist toolchain node-tools vendor chromium models test-models cargo-test e2e api-test fmt lint cuda-build

## run: build the release binary (web app inside) and serve the default model at http://127.0.0.1:$(PORT)
## The model downloads while the binary builds (a cold start is mostly
## compiling, and the download mostly waiting on the network).
run:
	@mkdir -p target/tmp
	@scripts/fetch-models.sh qwen >target/tmp/fetch-models.log 2>&1 & fetch=$$!; \
	$(MAKE) --no-print-directory build; \
	wait $$fetch || { cat target/tmp/fetch-models.log >&2; exit 1; }; \
	cat target/tmp/fetch-models.log
	./target/release/candlelight --model $(MODEL) --listen-port $(PORT) --device $(DEVICE)

## test: every test: cargo (unit + integration with real models), Playwright in
## Chromium, and the official openai Python client against the API. The
## release binary the cargo tests build is the one the browser and API
## tests run (built once).
test: toolchain node-tools chromium test-models cargo-test e2e api-test

## site: the web app in target/site (wasm, JS, CSS, public/), which the
## server embeds. No cargo-leptos: `cargo leptos watch` still works for
## development if you install it, but nothing here needs it.
site: toolchain node-tools vendor
	scripts/build-site.sh

## build: the release binary with the site inside. `cargo test` builds the
## same binary with the same features and flags (the browser and API tests
## run it), so after `make test` this builds nothing.
build: site
	cargo build --release -p server --bin candlelight $(SERVER_FEATURES)

toolchain:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" || \
		$(TOOL_INSTALL_ENV) cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

# wasm-opt (binaryen 123: Debian's 108 silently breaks hydration) and Playwright.
node-tools: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# KaTeX (math) and highlight.js (code) for the browser, from the npm
# packages, served from our own public/vendor: the page loads nothing from
# other sites. scripts/build-site.sh copies public/ into the site.
vendor: public/vendor/.copied
public/vendor/.copied: node_modules/.package-lock.json
	rm -rf public/vendor
	mkdir -p public/vendor/katex/fonts public/vendor/highlight
	cp node_modules/katex/dist/katex.min.js node_modules/katex/dist/katex.min.css public/vendor/katex/
	cp node_modules/katex/dist/fonts/*.woff2 public/vendor/katex/fonts/
	cp node_modules/@highlightjs/cdn-assets/highlight.min.js public/vendor/highlight/
	cp node_modules/@highlightjs/cdn-assets/styles/github.min.css \
	   node_modules/@highlightjs/cdn-assets/styles/github-dark.min.css public/vendor/highlight/
	touch $@

chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

models:
	scripts/fetch-models.sh qwen

test-models:
	scripts/fetch-models.sh all

# Tests whose fast path this CPU lacks skip loudly; the list is printed here.
SKIPS := target/tmp/skipped-tests.txt
cargo-test: site test-models $(VENV)/.installed
	@rm -f $(SKIPS)
	# One test at a time: tests that load a model each start a thread team
	# of every core, and several teams spinning at once on two cores run
	# many times slower than one after another.
	RUST_TEST_THREADS=1 cargo test --release --workspace $(SERVER_FEATURES)
	@if [ -s $(SKIPS) ]; then echo "$$(wc -l < $(SKIPS)) tests skipped on this CPU:"; cat $(SKIPS); fi

e2e: build chromium node-tools test-models $(VENV)/.installed
	npx playwright test --config end2end/playwright.config.ts

# The official openai client (and pytest) in a project-local virtualenv.
$(VENV)/.installed: end2end/openai/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r end2end/openai/requirements.txt
	touch $@

api-test: build test-models $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q end2end/openai

# Cross-builds the server with CUDA for Hopper (sm_90: H100/H200) on a machine
# without CUDA: the toolkit comes from NVIDIA's PyPI wheels (.tools/cuda13).
# The binary is target/cuda/release/candlelight; see README "On a rented GPU".
CUDA_TOOLKIT := $(CURDIR)/.tools/cuda13
cuda-build: site
	scripts/cuda-toolkit.sh
	CUDA_HOME=$(CUDA_TOOLKIT) CUDA_PATH=$(CUDA_TOOLKIT) PATH=$(CUDA_TOOLKIT)/bin:$$PATH \
	LIBRARY_PATH=$(CUDA_TOOLKIT)/lib CUDA_COMPUTE_CAP=$${CUDA_COMPUTE_CAP:-90} \
	CARGO_TARGET_DIR=target/cuda CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=x86-64-v3" \
	cargo build --release -p server --bin candlelight --features cuda

## dist: target/dist/candlelight-<version>-<arch>[-cuda].tar.gz: the binary
## (web app inside), how to run it, the licences. `make dist CUDA=1` packs
## the CUDA build (make cuda-build); both build for any x86-64 CPU of the
## last decade (x86-64-v3; the kernels still choose AVX-512 at run time).
ifeq ($(CUDA),1)
DIST_BINARY := target/cuda/release/candlelight
DIST_BUILD := cuda-build
else
DIST_BINARY := target/portable/release/candlelight
DIST_BUILD := portable-build
endif
dist: $(DIST_BUILD)
	scripts/dist.sh $(DIST_BINARY) $(if $(filter 1,$(CUDA)),cuda,cpu)

.PHONY: portable-build
portable-build: site
	CARGO_TARGET_DIR=target/portable CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=x86-64-v3" \
	cargo build --release -p server --bin candlelight

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings
