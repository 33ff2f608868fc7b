# The two entry points: `make demo` and `make test`. Each creates .venv when missing.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-all test-slow bench lint debian-packages

$(STAMP): pyproject.toml package.json package-lock.json ipfs/package.json ipfs/package-lock.json
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	npm ci --prefix ipfs --no-audit --no-fund --loglevel=error
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/flavum demo

# Every test runs: a skipped test (a missing tool) fails the run (tests/conftest.py).
test: $(STAMP) debian-packages
	FLAVUM_NO_SKIP=1 $(PY) -m pytest -q

test-all: $(STAMP) debian-packages
	FLAVUM_NO_SKIP=1 $(PY) -m pytest -q -m ''

# Only the tests marked slow (the long forms: more deploys, kills, random sequences, steps).
test-slow: $(STAMP) debian-packages
	FLAVUM_NO_SKIP=1 $(PY) -m pytest -q -m slow

# chromium and litecoind, through apt-get when this machine allows it.
debian-packages:
	@sh tools/debian-packages.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check flavum tests bench
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) bench/bench_sequencer.py
	$(PY) bench/bench_state_root.py
	$(PY) bench/bench_inference.py
	$(PY) bench/bench_prove.py
