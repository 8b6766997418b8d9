# genre-rnn: `make demo` and `make test` work on a fresh clone with Python 3.10+ and pip.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test unit nbval lab notebooks report bench clean

# (Re)install when the venv is missing or pyproject.toml changed.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

install: $(STAMP)

## demo: execute the notebooks in order on the demo corpus; outputs under reports/demo/
demo: install
	$(PY) scripts/run_notebooks.py --out reports/demo

## test: unit tests, then every notebook under nbval
test: install unit nbval

unit: install
	$(PY) -m pytest tests

nbval: install
	$(PY) -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env notebooks

## lab: JupyterLab on the notebooks
lab: install
	$(VENV)/bin/jupyter lab notebooks

## notebooks: re-execute the committed notebooks in place on the demo data (before committing)
notebooks: install
	$(PY) scripts/run_notebooks.py --in-place

bench: install
	$(PY) benchmarks/bench_preprocess.py

clean:
	rm -rf reports data/cache
