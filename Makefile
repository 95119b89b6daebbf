# Everything installs from PyPI into .venv with uv; nothing needs to be installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null)
STAMP := $(VENV)/.installed

.PHONY: venv test lint typecheck unit test-ray test-browser chromium demo clean azurite

$(STAMP): pyproject.toml
	@if [ -z "$(UV)" ]; then $(PYTHON) -m pip install --quiet uv; fi
	uv venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	uv pip install --quiet --python $(BIN)/python -e ".[dev,ray]"
	# torch is pinned and taken from PIP_FIND_LINKS when set (a local CPU wheel): uv ignores
	# pip's configuration, and an unpinned torch would pull multi-GB CUDA builds.
	uv pip install --quiet --python $(BIN)/python $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS)) torch==2.13.0
	touch $(STAMP)

venv: $(STAMP)

LINTED := $(wildcard src tests bench examples)

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/ferry

# Azurite (Azure Blob emulator, from npm) for the Azure datastore tests.
AZURITE := .cache/azurite/node_modules/.bin/azurite-blob

azurite: $(AZURITE)

$(AZURITE):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix .cache/azurite --no-audit --no-fund --silent azurite@3.37.0; \
	else echo "npm not found: Azure Blob datastore tests will be skipped (install Node.js)"; fi

# Two pytest processes (a test file stays in one, so its module fixtures start once): most tests
# wait on real servers and workers, so two overlap well even on 2 cores. PYTEST_WORKERS=0: one.
PYTEST_WORKERS ?= 2

unit: $(STAMP) azurite
	$(BIN)/pytest -q -m "not ray and not browser" -n $(PYTEST_WORKERS) --dist loadfile

# One local multi-node Ray cluster (a head and a worker node) for the whole session.
test-ray: $(STAMP)
	$(BIN)/pytest -q -m ray

# The studio in a real browser: Debian's chromium driven by playwright (never `playwright install`).
CHROMIUM := $(shell command -v chromium 2>/dev/null)

chromium:
	@if [ -z "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; \
	fi

test-browser: $(STAMP) chromium
	$(BIN)/pytest -q -m browser

test: lint typecheck unit test-ray test-browser

# The main job end to end on a fresh local workspace: train the digits classifier, deploy it as
# a batch endpoint, invoke it over 300 PNGs with a live progress bar, print accuracy and where
# predictions.csv is. Then a tour of the registry, and an online endpoint left serving with a
# curl line to call it.
demo: $(STAMP)
	$(BIN)/python examples/digits-batch/run.py .ferry-demo/digits-ws --fresh; \
		status=$$?; $(BIN)/ferry --workspace .ferry-demo/digits-ws server stop -o none; exit $$status
	$(BIN)/python examples/demo.py
	# An online endpoint (Azure's model-1 sample); it prints a curl line and keeps serving.
	-@$(BIN)/ferry --workspace .ferry-demo/online-ws server stop -o none 2>/dev/null
	rm -rf .ferry-demo/online-ws
	$(BIN)/python examples/online-sklearn/run.py .ferry-demo/online-ws

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Batch bench: Ferry's engine vs an in-process loop vs Ray Data (bench/batch/README.md). Ray Data
# goes into bench/.venv (.venv has ferry[ray] only). BENCH_ARGS=--quick for a short smoke run.
.PHONY: bench-batch
bench-batch:
	bash bench/batch/setup.sh
	bench/.venv/bin/python bench/batch/run_bench.py $(BENCH_ARGS)

# Ray backend vs local backend, same worker count, on a local 2-node cluster; cold vs warm worker
# start on a node (bench/ray/ray_vs_local.py; results in bench/results/ray-latest.json).
.PHONY: bench-ray
bench-ray: $(STAMP)
	$(BIN)/python bench/ray/ray_vs_local.py $(BENCH_ARGS)

# Online bench: Ferry vs azureml-inference-server-http, and dynamic batching (bench/online/README.md).
include bench/online/Makefile.inc
