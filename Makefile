# make demo: install everything into .venv and run the demo.
# make test: install everything into .venv and run every test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# runStates.ts is generated from openapi.yaml's State schema, so that file is a source too
LABEXT_SRC := package.json yarn.lock mantik_jupyter/server/openapi.yaml \
	$(wildcard labextension/src/* labextension/style/* labextension/schema/* labextension/scripts/*)
LABEXT := $(VENV)/.labextension

.PHONY: install demo test lint test-ts bench clean

$(STAMP): pyproject.toml magics/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	# editable magics too (the line above installs a copy through the direct reference)
	$(PY) -m pip install --quiet --no-deps -e ./magics
	touch $(STAMP)

# the lab extension, rebuilt when its sources change (pip -e copies it only at install)
$(LABEXT): $(STAMP) $(LABEXT_SRC)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm build:prod
	rm -rf $(VENV)/share/jupyter/labextensions/mantik-jupyter
	cp -r mantik_jupyter/labextension $(VENV)/share/jupyter/labextensions/mantik-jupyter
	cp labextension/install.json $(VENV)/share/jupyter/labextensions/mantik-jupyter/
	touch $(LABEXT)

install: $(STAMP) $(LABEXT)

demo: install
	$(PY) -m mantik_jupyter.demo

lint: install
	$(VENV)/bin/ruff check .

# the lab extension's unit tests (jest, labextension/test/*.spec.ts)
test-ts: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm test

test: install lint test-ts
	$(PY) -m pytest
	# every example notebook runs as a test, with its own mantik home and MLflow store
	tmp=$$(mktemp -d) && MANTIK_JUPYTER_HOME=$$tmp/home MLFLOW_TRACKING_URI=sqlite:///$$tmp/mlflow.db \
		$(PY) -m pytest -p no:cacheprovider --nbval-lax notebooks/
	# the lab extension in a real Chromium (its own pytest rootdir: see ui-tests/pytest.ini)
	cd ui-tests && ../$(PY) -m pytest

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .slurm .pytest_cache .ruff_cache
