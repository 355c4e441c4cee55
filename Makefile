# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SAMPLE := data/sample
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYSPARK_PYTHON := $(abspath $(PY))

.PHONY: venv run test lint sample clean

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# byte-compiled here on both cores, the packages' own test suites left out (pip compiles everything
	# on one core: ~15 s of a fresh clone's build). Not left to first import: where PYTHONDONTWRITEBYTECODE
	# is set (as on our machines), each of the tests' Python processes would compile its imports again.
	$(PY) -m pip install --quiet --no-compile -e '.[test,eval,cluster,bench]'
	$(PY) -m compileall -q -j 0 -x '/tests?/' $(VENV)/lib >/dev/null
	touch $@

sample: venv
	test -f $(SAMPLE)/users.csv || ./spark-submit.sh jobs/generate_data.py --output $(SAMPLE)

run: venv
	./spark-submit.sh

lint: venv
	$(VENV)/bin/ruff check .

# two pytest workers (pytest-xdist), each test file in one of them (its module fixtures built once),
# the files in the order tests/conftest.py gives them (slowest first), not by their number of tests
PYTEST_WORKERS ?= 2
test: lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

clean:
	rm -rf build output .pytest_cache
