# ape-pst: everything installs itself on a fresh machine (Python venv + npm peers).
SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
# No telemetry/network prompts from ape; keep its data folder inside the project.
export APE_DATA_FOLDER ?= $(CURDIR)/.build/ape-data

.PHONY: install test demo bench clean

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	anvil --version | head -n 1
	touch $@

test: install
	ape test tests -p no:cacheprovider

demo: install
	ape run demo

bench: install
	ape run bench

clean:
	rm -rf $(VENV) node_modules .build
