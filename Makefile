# Two commands run Berth on a fresh machine: `make up` and `make test`.
# Everything they need is installed here, into .venv, from pyproject.toml.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=
# Test files run in parallel, each whole in one process (its module's `berth up` shared by its tests): most
# tests wait on processes and sockets, so two workers halve the suite's time on two cores. TEST_WORKERS=0
# runs it in one process.
TEST_WORKERS ?= 2

.PHONY: up test test-operator bench venv clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Berth needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per install flavour, redone whenever pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed-run

venv: $(VENV)/.installed-run

up: $(VENV)/.installed-run
	$(BIN)/berth up $(ARGS)

# The UI's browser tests drive Debian's chromium (never a downloaded browser). Installed here where apt-get
# may run (root); elsewhere tests/web skips, saying how to install it.
BROWSER := /usr/bin/chromium

$(VENV)/.installed-browser:
	@if [ -x $(BROWSER) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } || \
		echo "chromium could not be installed: the browser tests (tests/web) will be skipped"; \
	else echo "no chromium at $(BROWSER) and no apt-get as root: the browser tests (tests/web) will be skipped"; fi
	@if [ -x $(BROWSER) ]; then touch $@; fi

test: $(VENV)/.installed-test $(VENV)/.installed-browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(ARGS)
	$(MAKE) test-operator

# The end-to-end tests of the controllers, scheduler and nodes (issues D to F) once more, with the controllers
# and the scheduler in `berth operator`, a process apart, beside `berth up --no-controllers --no-scheduler`:
# the operator needs nothing but the Kubernetes API (tests/cluster.py, BERTH_TEST_OPERATOR).
test-operator: $(VENV)/.installed-test
	BERTH_TEST_OPERATOR=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(OPERATOR_ARGS) \
		tests/controllers tests/scheduler tests/nodes tests/webhook

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
