# genre-rnn: `make demo` and `make test` work on a fresh clone with Python 3.10+ and pip.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test unit fast nbval browser-deps lab notebooks report report-again results-pages bench clean

# (Re)install when the venv is missing or pyproject.toml changed. uv (from PyPI) installs
# the same packages from the same registry as pip, downloading in parallel: about half a
# minute instead of over a minute on a fresh machine; pip does it where uv cannot be had.
# --compile-bytecode as pip does: where PYTHONDONTWRITEBYTECODE is set (CI machines), a venv
# without .pyc files compiles TensorFlow's modules again in every process that imports it.
#
# NO_DEPS are installed without their dependencies, so they cannot sit in pyproject.toml:
# tinysoundfont (the synthesiser of genre_lib.audio) requires pyaudio, for live playback
# only, which PyPI has no Linux wheel of (it would need a system library to build);
# musicnn (the weights of genre_lib.ear's tagger; its code is not run) pins numpy < 1.17.
NO_DEPS := tinysoundfont==0.3.7 musicnn==0.1.0
$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@start=$$(date +%s); \
	if $(PY) -m pip install --quiet uv && $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.[test]' \
		&& $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) --no-deps $(NO_DEPS); then :; \
	else echo "install: uv failed, installing with pip"; \
		$(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet -e '.[test]' \
		&& $(PY) -m pip install --quiet --no-deps $(NO_DEPS) || exit 1; fi; \
	echo "install: $$(( $$(date +%s) - start )) s"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

install: $(STAMP)

## demo: the series on the data of genre_lib.data_source (GENRE_DATA, else data/real,
## else the generated demo corpus; no download) and the report reports/<data>/index.html
demo: install
	@$(PY) scripts/make_report.py

## report: the same as demo (the mentor's report is what demo writes)
report: demo

## report-again: the report's page again from the notebooks already run (no notebook runs)
report-again: install
	@$(PY) scripts/make_report.py --no-run

## results-pages: the readable page of every results/*.json (results/<name>.md, results/README.md)
## and the generated tables of README.md and docs/*.md, from the committed JSON (seconds)
results-pages: install
	@$(PY) scripts/results_pages.py

## test: unit tests (with the browser tests of the widgets) and every notebook under nbval
test: install browser-deps unit nbval

browser-deps:
	@bash scripts/ensure_chromium.sh

# pytest exits 5 when it collected no tests: a failure here, said in words
NO_TESTS = { rc=$$?; [ $$rc -ne 5 ] || echo "$@: FAILED: pytest collected no tests (exit status 5)" >&2; exit $$rc; }

# two workers (pytest-xdist) on a 2-core machine; a test file stays on one worker, so
# its module fixtures (a trained model, a cross-validation fold) are made once
JOBS ?= 2
XDIST = -n $(JOBS) --dist loadfile

unit: install
	$(PY) -m pytest $(XDIST) tests || $(NO_TESTS)

## fast: the tests a contributor runs while working (not marked slow; seconds, not minutes)
fast: install
	$(PY) -m pytest -m "not slow" $(XDIST) tests || $(NO_TESTS)

# The committed notebooks carry outputs of a run on the real collection: with it beside
# the project, nbval compares the cells marked NBVAL_CHECK_OUTPUT with them (quick mode);
# without it (a fresh clone alone) the notebooks are executed on the demo corpus only.
REAL_DATA ?= ../shared/midi
nbval: install
	@if [ -d "$(REAL_DATA)" ]; then \
		echo "GENRE_DATA=$(abspath $(REAL_DATA)) GENRE_QUICK=1 pytest --nbval-lax --nbval-current-env notebooks"; \
		GENRE_DATA=$(abspath $(REAL_DATA)) GENRE_QUICK=1 $(PY) -m pytest -p no:cacheprovider $(XDIST) --nbval-lax --nbval-current-env notebooks || $(NO_TESTS); \
	else \
		echo "nbval: $(REAL_DATA) not found: notebooks executed on the demo corpus, outputs not compared"; \
		GENRE_QUICK=1 $(PY) scripts/run_notebooks.py --out reports/ci-demo; \
	fi

## lab: JupyterLab on the notebooks
lab: install
	$(VENV)/bin/jupyter lab notebooks

## notebooks: re-execute the committed notebooks in place on the real collection, full
## mode (before committing: their stored outputs are what nbval compares with)
notebooks: install
	@test -d "$(REAL_DATA)" || { echo "notebooks: $(REAL_DATA) not found (REAL_DATA=DIR make notebooks)" >&2; exit 2; }
	GENRE_DATA=$(abspath $(REAL_DATA)) $(PY) scripts/run_notebooks.py --in-place

## bench: every benchmark (prints figures; needs ../shared/midi)
bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf reports data/cache

## data: download the real MIDI files listed in data/sources/midi.csv into data/real
## as data/real/<genre>/<name>, the files of ../shared/midi (~95 MB, SHA-1 checked, resumable;
## the files carry no licence: never commit them)
.PHONY: data
data: install
	$(PY) -m genre_lib download --dest data/real
