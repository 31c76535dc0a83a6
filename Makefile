# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 9001

.PHONY: install sandbox-tools run test lint typecheck unit e2e bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Ember needs Python 3.11 or newer (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) sandbox-tools

# bubblewrap gives environments their namespaces (setpriv, from util-linux, drops root).
# Installed where missing when we are root on an apt-based host; otherwise this says how,
# and Ember runs with what the host has (`ember doctor` lists which guarantees hold).
sandbox-tools:
	@if command -v bwrap >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing bubblewrap (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	else \
		echo "note: bubblewrap is missing, so environments will run as plain processes."; \
		echo "      Install it: sudo apt-get install bubblewrap (Debian, Ubuntu), sudo dnf install bubblewrap (Fedora)."; \
	fi

run: install
	$(BIN)/ember serve --host $(HOST) --port $(PORT) --data-dir .ember --deploy examples

lint: install
	$(BIN)/ruff format --check ember tests bench
	$(BIN)/ruff check ember tests bench

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .ember .mypy_cache .ruff_cache .pytest_cache
