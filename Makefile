# make demo: install everything into .venv and run the demo.
# make test: install everything into .venv and run every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml magics/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	# editable magics too (the line above installs a copy through the direct reference)
	$(PY) -m pip install --quiet --no-deps -e ./magics
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) -m mantik_jupyter.demo

lint: install
	$(VENV)/bin/ruff check .

test: install lint
	$(PY) -m pytest
	# every example notebook runs as a test, with its own mantik home and MLflow store
	tmp=$$(mktemp -d) && MANTIK_JUPYTER_HOME=$$tmp/home MLFLOW_TRACKING_URI=sqlite:///$$tmp/mlflow.db \
		$(PY) -m pytest -p no:cacheprovider --nbval-lax notebooks/

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .slurm .pytest_cache .ruff_cache
