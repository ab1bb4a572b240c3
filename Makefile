# ape-pst: everything installs itself on a fresh machine (Python venv + npm peers).
SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
# No telemetry/network prompts from ape; keep its data folder inside the project.
export APE_DATA_FOLDER ?= $(CURDIR)/.build/ape-data
# the plugin is imported from this checkout (also from a git worktree sharing a venv)
export PYTHONPATH := $(CURDIR)
# ape-foundry's fork of the mainnet stand-in (`ape pst fork start`, see ape-config.yaml)
FORK := ethereum:mainnet-fork:foundry
# Long, self-contained local tests that run beside the fork suite, so both
# halves of `make test` take about as long on two cores.
BESIDE := tests/test_governance_invariants.py tests/test_plugin_in_another_project.py tests/test_fund_invariants.py \
	tests/test_revenue_invariants.py tests/test_keeper_bot.py tests/test_devnet.py tests/test_keeper_cluster.py

# Linters in their own venv: mamushi pins a click that eth-ape refuses.
TOOLS := .build/tools

.PHONY: install test demo bench clean lint redis

install: $(VENV)/.installed node_modules/.installed redis

# A real Redis server for the keeper's distributed mode (tests/test_keeper_cluster.py):
# Debian's package, installed once (the machines are root).
redis:
	@command -v redis-server >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }; }
	@redis-server --version | head -n 1

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	anvil --version | head -n 1
	touch $@

$(TOOLS)/.installed:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q ruff mamushi
	touch $@

# ruff (lint + format) on the Python, mamushi (format) on the Vyper; `make test` runs it first.
lint: $(TOOLS)/.installed
	$(TOOLS)/bin/ruff check ape_pst_plugin tests scripts
	$(TOOLS)/bin/ruff format --check ape_pst_plugin tests scripts
	$(TOOLS)/bin/mamushi --check -l 120 ape_pst_plugin/contracts

# Two suites side by side (each mostly waits on its anvil): the local suite,
# and on a fork of the mainnet stand-in the `fork` tests plus the stabiliser
# invariants, followed by the local tests in $(BESIDE). The stand-in is
# stopped whatever happens (trap); any failing part fails the target. The wall time goes to .build/make-test-seconds
# (`make bench` reports it).
test: install lint
	@began=$$(date +%s); status=0; fork_pid=; \
	ape pst fork start || exit 1; \
	trap '[ -n "$$fork_pid" ] && kill $$fork_pid 2>/dev/null; ape pst fork stop' EXIT; \
	( s=0; \
	  again() { "$$@" > .build/test-try.log 2>&1; r=$$?; cat .build/test-try.log; \
	    if [ $$r -ne 0 ] && grep -q "RPCTimeoutError" .build/test-try.log; then \
	      echo "anvil did not answer in time: running that command once more"; "$$@"; r=$$?; fi; return $$r; }; \
	  again ape test tests -m fork --network $(FORK) -p no:cacheprovider || s=1; \
	  again ape test tests/test_stabiliser_invariants.py --network $(FORK) -p no:cacheprovider || s=1; \
	  again ape test $(BESIDE) -p no:cacheprovider || s=1; \
	  exit $$s ) > .build/test-fork.log 2>&1 & fork_pid=$$!; \
	echo "fork suite running in the background (log: .build/test-fork.log)"; \
	ape test tests -m "not fork" $(addprefix --ignore=,$(BESIDE)) -p no:cacheprovider --durations=15 || status=1; \
	wait $$fork_pid || status=1; fork_pid=; \
	echo "==== on the mainnet stand-in ($(FORK)), then $(BESIDE) ===="; cat .build/test-fork.log; \
	echo $$(( $$(date +%s) - began )) > .build/make-test-seconds; \
	echo "make test: $$(cat .build/make-test-seconds) s, $$([ $$status = 0 ] && echo passed || echo FAILED)"; \
	exit $$status

# A 30-day panic sell-off on the mainnet stand-in, with the report.
demo: install
	@ape pst fork start || exit 1; \
	trap 'ape pst fork stop' EXIT; \
	ape pst simulate selloff --days 30 --network $(FORK) --out reports/demo && \
	echo "open $(CURDIR)/reports/demo/report.md (plots beside it)"

bench: install
	ape run bench

clean:
	rm -rf $(VENV) node_modules .build
