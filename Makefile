# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# boto3/botocore for functions (AWS's Python runtimes ship them); `ember serve` looks here.
SDK    := $(VENV)/share/ember/python-sdk
SDK_VERSION ?= 1.44.8
HOST   ?= 127.0.0.1
PORT   ?= 9001
ISSUER_PORT ?= 9002

.PHONY: install sandbox-tools python-sdk java-runtime test-wheels run oauth-example test flake lint typecheck unit e2e bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Ember needs Python 3.11 or newer (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) sandbox-tools python-sdk java-runtime test-wheels

# One pure-Python copy for every python3.x, bound read-only into environments and put on
# sys.path after the function's code and layers; bytecode written for each interpreter.
python-sdk: $(SDK)/.installed-$(SDK_VERSION)

$(SDK)/.installed-$(SDK_VERSION): | $(STAMP)
	rm -rf $(SDK).tmp
	$(BIN)/python -m pip install --quiet --no-compile --target $(SDK).tmp boto3==$(SDK_VERSION)
	rm -rf $(SDK) && mv $(SDK).tmp $(SDK)
	$(BIN)/python -c 'from ember.runtimes import RuntimeCatalog; RuntimeCatalog.discover().precompile()'
	touch $@

# Ember's Java runtime (java11-java25): compiled with javac into a jar that environments see
# at /var/runtime/lib, rebuilt when its sources change; skipped (with a note) without a JDK.
java-runtime: | $(STAMP)
	@$(BIN)/python -c 'import sys; from ember.runtimes import jvm; sys.exit(jvm.main(sys.argv[1:]))' \
		$(VENV)/share/ember/java-runtime

# AWS's runtime interface client, downloaded once for the test that vendors it into a
# function as a user would: the suite then installs it from here, not from the network.
WHEELS := $(VENV)/share/ember/test-wheels
RIC_VERSION ?= 4.2.2
test-wheels: $(WHEELS)/.awslambdaric-$(RIC_VERSION)

$(WHEELS)/.awslambdaric-$(RIC_VERSION): | $(STAMP)
	$(BIN)/python -m pip download --quiet --dest $(WHEELS) awslambdaric==$(RIC_VERSION)
	touch $@

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
	@# mkfs.ext4 makes each environment's /tmp filesystem (else /tmp is a tmpfs in memory).
	@if command -v mkfs.ext4 >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then :; \
	else echo "installing e2fsprogs (apt-get)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq e2fsprogs >/dev/null; fi
	@# nft sets up environments' outbound NAT (else they have no way out); the tests' stand-in
	@# for an outside host uses `ip` (iproute2).
	@if command -v nft >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then :; \
	else echo "installing nftables (apt-get)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables iproute2 >/dev/null; fi
	@# skopeo copies docker-archive: and registry container images to an OCI layout.
	@if command -v skopeo >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then :; \
	else echo "installing skopeo (apt-get)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo >/dev/null; fi
	@# chromium: the web console's browser test drives Debian's build (Playwright downloads none).
	@if command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then :; \
	else echo "installing chromium (apt-get)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

# Ember with examples/ deployed, and beside it the OAuth-protected HTTP API example (its
# local OpenID issuer on ISSUER_PORT, the API once the server answers, a curl walk-through).
run: install
	@$(BIN)/python examples/oauth_api.py up --wait 120 --endpoint http://$(HOST):$(PORT) \
		--issuer-port $(ISSUER_PORT) & example=$$!; trap "kill $$example 2>/dev/null" EXIT; \
	$(BIN)/ember serve --host $(HOST) --port $(PORT) --data-dir .ember --deploy examples

# The OAuth example alone, for an Ember started otherwise (`make run` starts it itself).
oauth-example: install
	$(BIN)/python examples/oauth_api.py up --endpoint http://$(HOST):$(PORT) --issuer-port $(ISSUER_PORT)

lint: install
	$(BIN)/ruff format --check ember tests bench
	$(BIN)/ruff check ember tests bench

typecheck: install
	$(BIN)/mypy

# On two workers: the suite is ~3,300 tests with real servers (7–8 min this way, about twice
# that serially); `make flake` checks three runs in a row that no test depends on timing.
test: lint typecheck
	$(BIN)/pytest -q -n 2

# The flake check: the whole suite three times in a row on two workers; any failure stops it.
flake: install
	for run in 1 2 3; do $(BIN)/pytest -q -n 2 || exit 1; done

bench: install
	$(BIN)/python -m bench
	@# What /tmp on disk costs a cold start (loop devices: root only).
	@if [ "$$(id -u)" = 0 ]; then $(BIN)/python -m bench.scratch; fi

clean:
	rm -rf $(VENV) .ember .mypy_cache .ruff_cache .pytest_cache
