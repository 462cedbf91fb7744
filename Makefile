# Developer entry points. `make test` and `make demo` create .venv from scratch when missing.
# Extra flags: make demo ARGS="--mode SE"; make compile ARGS="--image ... --root gs://..."
PYTHON_VERSION := $(shell cat .python-version)
PY ?= python3.10
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

.PHONY: venv test test-fast demo compile bench bench-quick bench-scale bench-scale-quick bench-diagnose bench-baselines clean

venv: $(STAMP)

$(STAMP): setup.py requirements/constraints.txt
	@command -v $(PY) >/dev/null || { echo "Python $(PYTHON_VERSION) not found as $(PY) (pyenv: 'pyenv install $(PYTHON_VERSION)')"; exit 1; }
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip==24.2
	$(VPY) -m pip install -q -c requirements/constraints.txt -e ".[dev,bench]"
	touch $(STAMP)

test: venv
	$(VPY) -m pytest -q tests

test-fast: venv
	$(VPY) -m pytest -q -m "not e2e" tests

demo: venv
	$(VPY) -m pipelines.runners.local --demo --output-dir $(or $(OUT),demo_output) $(ARGS)

compile: venv
	$(VPY) -m pipelines.runners.kubeflow_v2 --output-dir $(or $(OUT),build) $(ARGS)

bench: venv
	$(VPY) -m benchmarks.run --jobs 3 --output BENCHMARKS.md

bench-quick: venv
	$(VPY) -m benchmarks.run --quick --output build/BENCHMARKS.quick.md

# The Scale section of BENCHMARKS.md (issue 17): million-id data, about an hour on 2 cores.
# Writes benchmarks/results/scale.json and re-renders BENCHMARKS.md from it and
# benchmarks/results/bench.json (make bench's raw records).
bench-scale: venv
	$(VPY) -m benchmarks.scale --output BENCHMARKS.md $(ARGS)

# Supernet ranking fidelity, reward noise and controller learning (issue 36), 3 search seeds.
bench-diagnose: venv
	$(VPY) -m benchmarks.diagnose --plots --output benchmarks/results/diagnostics.json $(ARGS)

# The hand-sized baseline's width: floor vs fair width vs a width grid, 3 seeds (then re-render).
bench-baselines: venv
	$(VPY) -m benchmarks.baselines --output benchmarks/results/baselines.json $(ARGS)
	$(VPY) -m benchmarks.run --render benchmarks/results/bench.json --output BENCHMARKS.md

bench-scale-quick: venv
	$(VPY) -m benchmarks.scale --quick --output build/BENCHMARKS.scale-quick.md $(ARGS)

clean:
	rm -rf build demo_output .pytest_cache
