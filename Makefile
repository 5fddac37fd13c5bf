# Two commands on a fresh machine: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test test-fast lint synth docs local demo bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

test: setup  ## every test: unit, integration (moto, simulator), infrastructure, end to end
	$(PY) -m pytest -q

test-fast: setup  ## everything but the end-to-end tests
	$(PY) -m pytest -q -m "not e2e"

lint: setup
	$(VENV)/bin/ruff check .

synth: setup  ## synthesize the CDK app (bundles the Lambda asset) into cdk.out
	$(PY) app.py

docs: setup  ## regenerate the README's generated tables (providers, permissions)
	$(PY) -m batchrelay_tools.readme

local: setup  ## the whole system on loopback, in the foreground
	$(PY) -m batchrelay_tools.local

demo: setup  ## one job per provider end to end on the local stack (PROVIDERS=openai,mistral for some)
	$(PY) -m batchrelay_tools.local.demo $(if $(PROVIDERS),--providers $(PROVIDERS))

bench: setup  ## the benchmarks' figures (scale: 100,000 then 1,000,000 requests, compared; about half an hour, 13 GB of memory)
	$(PY) bench/poller.py
	$(PY) bench/collector.py
	$(PY) bench/cold_start.py
	$(PY) bench/scale.py --requests 100000
	$(PY) bench/scale.py --requests 1000000 --compare bench/out/scale-100000.json

clean:
	rm -rf cdk.out .pytest_cache demo-output
