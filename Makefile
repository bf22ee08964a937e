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

.PHONY: install demo test lint test-ts bench clean $(SUITES:%=suite-%)

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

# The test suites: every folder under tests/ belongs to the main pytest run (testpaths).
# Each suite (lint too) runs even when an earlier one failed; the run then fails naming
# the failed suites. They run one after another, output live. SUITE_JOBS=2 runs notebooks
# and then ui beside the long pytest suite (they share nothing but Slurm), each suite's
# output printed whole when it ends: ~7 min less, but the browser tests once failed that way
# on an overloaded machine, so CI keeps 1. PYTEST_ARGS narrows the main run (tests/sim).
SUITES := lint ts pytest notebooks ui
SUITE_JOBS ?= 1
PYTEST_ARGS ?=
TEST_LOGS ?= $(CURDIR)/.test-logs
export TEST_LOGS

test: install
	mkdir -p $(TEST_LOGS) && rm -f $(TEST_LOGS)/*.log $(TEST_LOGS)/*.rc $(TEST_LOGS)/summary
	# Slurm installed and up before suites run side by side (their apt-get would race for
	# its lock); without root this fails here and each suite's tests say why themselves
	-scripts/slurm-up > $(TEST_LOGS)/slurm-up.log 2>&1
	$(MAKE) --no-print-directory -j$(SUITE_JOBS) $(if $(filter 1,$(SUITE_JOBS)),,--output-sync=target) \
		$(SUITES:%=suite-%)
	.ci/failed-suites $(SUITES)

suite-lint: install
	.ci/suite lint $(VENV)/bin/ruff check .

# the lab extension's unit tests (jest, labextension/test/*.spec.ts)
test-ts: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm test

suite-ts: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" .ci/suite ts jlpm test

# the main pytest run: tests/ (every folder in it), its 25 slowest tests listed at the end
suite-pytest: install
	.ci/suite pytest $(PY) -m pytest --durations=25 $(PYTEST_ARGS)

# every example notebook runs as a test, with its own mantik home and MLflow store
suite-notebooks: install
	tmp=$$(mktemp -d) && .ci/suite notebooks env MANTIK_JUPYTER_HOME=$$tmp/home \
		MLFLOW_TRACKING_URI=sqlite:///$$tmp/mlflow.db \
		$(PY) -m pytest -p no:cacheprovider --durations=10 --nbval-lax notebooks/

# the lab extension in a real Chromium (its own pytest rootdir: see ui-tests/pytest.ini)
suite-ui: install
	cd ui-tests && ../.ci/suite ui ../$(PY) -m pytest --durations=10

bench: install
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .slurm .pytest_cache .ruff_cache .test-logs
