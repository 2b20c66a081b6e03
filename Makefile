# `make demo` runs the main job; `make test` sets everything up and runs the tests.
PY ?= python3
VENV := .venv
IVENV := .venv-interop
BIN := $(VENV)/bin
IBIN := $(IVENV)/bin
FMNIST := /usr/share/datasets/fashion-mnist

.PHONY: demo test test-fast setup interop-env system-deps bench clean

demo: setup
	$(BIN)/designspace demo

test: setup interop-env
	$(BIN)/python -m pytest -m "not interop" $(PYTEST_ARGS)
	$(IBIN)/python -m pytest -m interop $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not interop and not slow" $(PYTEST_ARGS)

# Debian packages: the real Fashion-MNIST and a headless browser for the report test.
system-deps:
	@if [ ! -d $(FMNIST) ] || ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q dataset-fashion-mnist chromium >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist chromium >/dev/null)); \
	  else echo "note: install Debian's dataset-fashion-mnist and chromium (sudo apt-get install dataset-fashion-mnist chromium)"; fi; \
	fi

$(BIN)/.ok: pyproject.toml
	$(MAKE) system-deps
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q "torch==2.13.0" || $(BIN)/pip install -q "torch>=2.3"
	$(BIN)/pip install -q -e ".[test,parquet,ray,slurm,progress]"
	$(BIN)/pip install -q --no-deps pycls==0.1.1 yacs
	touch $@

setup: $(BIN)/.ok

# torchvision and timm pull a larger torch build, so they live in their own environment.
$(IBIN)/.ok: pyproject.toml
	test -x $(IBIN)/python || $(PY) -m venv $(IVENV)
	$(IBIN)/pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(IBIN)/pip install -q -e ".[test,interop]"
	$(IBIN)/pip install -q --no-deps pycls==0.1.1 yacs
	touch $@

interop-env: $(IBIN)/.ok

bench: setup
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(IVENV)
