# tunewise — two commands for a newcomer:
#   make demo   creates .venv, installs tunewise, tunes an MLP on the digits data (SQLite store)
#   make test   installs what the tests need (PostgreSQL server binaries included), runs lint,
#               type checks and the whole suite

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_DEV  := $(VENV)/.installed-dev

.PHONY: demo bench test lint typecheck pytest postgres-binaries browser netns-tools clean docs docs-serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_DEMO): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[examples]'
	touch $@

$(STAMP_DEV): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

STAMP_DOCS := $(VENV)/.installed-docs
$(STAMP_DOCS): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[docs]'
	touch $@

# The documentation site (mkdocs.yml): built into site/ (strict: a broken link or a docstring
# that does not render is an error; make test builds it too, tests/docs/test_site.py), or
# served on loopback while you write.
docs: $(STAMP_DOCS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d site

docs-serve: $(STAMP_DOCS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve -a 127.0.0.1:8000

demo: $(STAMP_DEMO)
	$(BIN)/tunewise run examples/mlp_digits.yaml
	$(BIN)/python -m examples.mlp_digits compare --storage sqlite:///tunewise.db --study mlp-digits

# The strategies against the peers (docs/benchmarks.md): the peers live in their own venv, an
# optional extra that tunewise itself never needs. About 40 minutes on 2 cores.
BENCH_VENV ?= /tmp/bench-venv
BENCH_HARNESS ?= ../shared
bench: $(STAMP_DEV)
	@test -x $(BENCH_VENV)/bin/python || ($(PYTHON) -m venv $(BENCH_VENV) && \
		$(BENCH_VENV)/bin/pip install --quiet -r $(BENCH_HARNESS)/bench/requirements.txt)
	$(BIN)/python -m benchmarks.run --python $(BENCH_VENV)/bin/python --bench $(BENCH_HARNESS)

# PostgreSQL tests start a throwaway server from these binaries (tests/postgres.py).
postgres-binaries:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing PostgreSQL server binaries"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	fi

# Browser tests drive the dashboard in Debian's Chromium through Playwright (never
# `playwright install`: it downloads a browser build, which this network does not allow).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Chromium for the browser tests"; \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null)); \
	fi

# Ray cluster tests run their nodes in a network namespace with only loopback (unshare and
# nsenter from util-linux, `ip` from iproute2): Ray would otherwise use the outward address.
netns-tools:
	@if ! command -v ip >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1; then \
		echo "installing iproute2 and util-linux for the Ray cluster tests"; \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 util-linux >/dev/null 2>&1 || \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 util-linux >/dev/null)); \
	fi

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

pytest: $(STAMP_DEV) postgres-binaries browser netns-tools
	$(BIN)/pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
