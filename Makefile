# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Where `make run` serves: `make run HOST=0.0.0.0 PORT=8080`. Plain assignments, so only the command
# line changes them (some shells export a HOST of their own).
HOST = 127.0.0.1
PORT = 8000

.PHONY: run test test-stressed bench screenshots venv venv-test migrate plugin-zip clean

run: venv
	@$(PY) -m sidecar sites add --if-none --url http://localhost --name "My membership site" \
		|| { echo "could not create the first site" >&2; exit 1; }
	$(PY) -m sidecar serve --host $(HOST) --port $(PORT)

test:
	scripts/run-tests

# `make test` with `stress-ng --cpu 2` beside it: the suite must hold on a busy machine. Not for CI.
test-stressed:
	scripts/run-tests-stressed

# Full-size benchmarks (several minutes each); figures go to bench/results/ and BENCHMARKS.md.
bench: venv-test
	$(PY) -m bench.ingest
	$(PY) -m bench.ingest --batch
	$(PY) -m bench.bridge_cost
	$(PY) -m bench.import
	$(PY) -m bench.dispatch
	$(PY) -m bench.digest
	$(PY) -m bench.holdout
	$(PY) -m bench.memory

# Refreshes the screenshots kept in git (test-output/screenshots/) by running the browser tests that
# take them; `make test` writes its own under test-output/run/ and leaves these alone.
screenshots:
	FAREWELL_UPDATE_SCREENSHOTS=1 scripts/run-tests

venv: $(VENV)/.runtime-installed
venv-test: $(VENV)/.test-installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements.txt requirements-test.txt | $(VENV)/bin/python
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@ $(VENV)/.runtime-installed

migrate: venv
	$(PY) -m sidecar migrate

plugin-zip:
	$(PYTHON) scripts/plugin_zip.py

clean:
	rm -rf $(VENV) dist test-output
