# Everything runs from a virtual environment this Makefile makes: nothing to install by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SITE ?= demo-site

.PHONY: all run test lint typecheck unit check bench clean proto

all: test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "shoal needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

## run: create the demo site if missing, start its grid with the demo application, say how to look
run: $(STAMP)
	@test -d $(SITE) || $(BIN)/shoal init $(SITE)
	@if $(SITE)/bin/shoal admin status >/dev/null 2>&1; then \
		echo "the grid of $(SITE) is already running"; \
	else \
		$(SITE)/bin/shoal admin start $(SITE)/etc/grid/demo.xml; \
	fi
	@echo
	@echo "Look at it:   $(SITE)/bin/shoal admin status"
	@echo "              $(SITE)/bin/shoal admin diagnostics"
	@echo "              $(SITE)/bin/shoal admin ice server stdout Ticker-0 --tail 5 --follow"
	@echo "More nodes:   $(SITE)/bin/shoal node node1 start"
	@echo "Stop it:      $(SITE)/bin/shoal admin stop"

## test: lint, type checks and the whole test suite with coverage
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term \
		--cov-fail-under=0 tests
	$(BIN)/coverage report --include='src/shoal/config/*,src/shoal/descriptor/*' --fail-under=95

check: test

## bench: Shoal vs IceGrid vs supervisord, same machine, same run (ARGS=--quick: N=20, 3 runs)
# src/ is byte-compiled first: PYTHONDONTWRITEBYTECODE=1 would otherwise leave Shoal's modules
# (and its dataclasses' methods: shoal.classcache) compiled from source at every CLI and daemon
# start, while pip-installed peers load .pyc files.
bench: $(STAMP)
	$(BIN)/python -m compileall -q src
	$(BIN)/python -m shoal.classcache
	$(BIN)/python -m bench.run $(ARGS)

## proto: regenerate src/shoal/rpc/*_pb2*.py* from the .proto files (commit both)
proto: $(STAMP)
	$(BIN)/python -m shoal.rpc.generate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
