# The two commands the README gives: `make demo` and `make test`. Both create or reuse .venv.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= 2

.PHONY: install demo test test-jax test-slow test-torch lint format bench bench-all bench-detection bench-nms \
	bench-two-stage bench-word2vec bench-litert clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m zoo demo

# Default test run: everything not marked slow on TensorFlow, then the multi-backend subset on JAX.
test: $(STAMP)
	$(PY) -m pytest -q -n $(JOBS) --durations=15
	KERAS_BACKEND=jax $(PY) -m pytest -q -n $(JOBS) -m "multibackend and not slow and not torch"

test-jax: $(STAMP)
	KERAS_BACKEND=jax $(PY) -m pytest -q -n $(JOBS) -m "multibackend and not slow and not torch"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m "slow and not torch"

# Parity with torchvision checkpoints (shared random weights; no network): needs the torch extra.
test-torch: $(STAMP)
	$(PY) -m pip install -q -e ".[torch]" torch==2.14.1 torchvision==0.29.1
	$(PY) -m pytest -q -m "torch and not slow" --durations=10

lint: $(STAMP)
	$(PY) -m ruff check zoo recipes tools tests
	$(PY) -m ruff format --check zoo recipes tools tests

format: $(STAMP)
	$(PY) -m ruff format zoo recipes tools tests
	$(PY) -m ruff check --fix zoo recipes tools tests

# Benchmarks (own scripts, never part of the test run); results go to docs/RESULTS.md.
bench: $(STAMP)
	$(PY) tools/bench.py

bench-detection: $(STAMP)
	$(PY) tools/bench_detection.py --repeats 5 --warmup 2

bench-nms: $(STAMP)
	$(PY) tools/bench_nms.py
	KERAS_BACKEND=jax $(PY) tools/bench_nms.py

bench-two-stage: $(STAMP)
	$(PY) tools/bench_two_stage.py --height 600 --width 800 --repeats 2

bench-word2vec: $(STAMP)
	$(PY) tools/bench_word2vec.py --mode skipgram cbow --epochs 5 --seeds 3 --json runs/bench_word2vec/bench_1x.json
	$(PY) tools/bench_word2vec.py --mode skipgram cbow --epochs 5 --seeds 2 --repeat 4 --workdir runs/bench_word2vec_4x --json runs/bench_word2vec_4x/bench_4x.json

bench-litert: $(STAMP)
	$(PY) tools/bench_litert.py --runs 3 --calibration 8 --verify 4 --trained-check 6

bench-all: bench bench-detection bench-nms bench-two-stage bench-word2vec bench-litert

clean:
	rm -rf $(VENV) build dist *.egg-info runs
