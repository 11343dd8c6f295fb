# litmine: `make run` mines the bundled sample, `make test` runs the suite, `make bench` the CPU benchmarks,
# `make dist` builds the wheels (litmine and one per model).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A range the machine's CPU wheel satisfies; on a GPU machine override, e.g. TORCH_SPEC='torch>=2.13,<2.15'.
TORCH_SPEC ?= torch==2.13.0
DB ?= litmine.duckdb
SAMPLE := data/sample/pubmedsample18n0001.xml.gz
# Two pytest-xdist workers: most integration tests wait on servers and subprocesses, so two keep
# both cores busy (`make test PYTEST_ARGS=` runs the suite in one process).
PYTEST_ARGS ?= -n 2 --dist worksteal
DIST ?= dist

export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install run test bench bench-gpu dist clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip "setuptools>=77"  # setuptools: `make dist` builds offline; 77 reads the SPDX `license`
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

run: install
	$(BIN)/litmine mine --files $(SAMPLE) --db $(DB) --no-progress
	$(BIN)/litmine info --db $(DB)
	@echo
	@echo "Try: $(BIN)/litmine sql --db $(DB) \"SELECT chemical, disease, chemical_id, disease_id, round(score, 2) AS score FROM pairs WHERE relation = 'CID' ORDER BY score DESC LIMIT 10\""

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# CPU figures of README "Performance": NER engine vs transformers.pipeline, the mine flow end to end, the
# NER ensemble vs one model, the stacked CID model vs its linear member.
bench: install
	$(BIN)/python benchmarks/ner_throughput.py --repeat 2 --device cpu
	$(BIN)/python benchmarks/e2e.py --n 200 --scale 10 --batch-size 50 --device cpu
	$(BIN)/python benchmarks/ner_ensemble.py --repeat 2 --device cpu
	$(BIN)/python benchmarks/relations.py --repeat 3 --device cpu

# GPU figures (issue 18, item 5), one command: NER in fp16 and bf16 against the pipeline, the
# relation step, `mine` end to end at two sizes, and all of PubMed projected from them. Written to
# $(GPU_OUT); `make bench-gpu GPU_DEVICE=cpu GPU_N=20` runs the same chain on a CPU.
GPU_DEVICE ?= cuda
GPU_N ?= 1000
GPU_OUT ?= benchmarks/out/$(GPU_DEVICE)
bench-gpu: install
	mkdir -p $(GPU_OUT)
	$(BIN)/python benchmarks/ner_throughput.py --device $(GPU_DEVICE) --dtype fp16 --repeat 2 --no-int8 --no-one-thread --json $(GPU_OUT)/ner-fp16.json
	$(BIN)/python benchmarks/ner_throughput.py --device $(GPU_DEVICE) --dtype bf16 --repeat 2 --no-int8 --no-one-thread --json $(GPU_OUT)/ner-bf16.json
	$(BIN)/python benchmarks/relation_step.py --repeat 2 --device $(GPU_DEVICE)
	$(BIN)/python benchmarks/e2e.py --n $(GPU_N) --scale 10 --batch-size 256 --no-plain --device $(GPU_DEVICE) --json $(GPU_OUT)/e2e.json
	$(BIN)/python benchmarks/pubmed_projection.py $(GPU_OUT)

# Wheels into $(DIST): litmine itself (no models inside), then one per model of data/models, named like
# the model (`litmine models package`; README "Installing from wheels"). No network: the build
# backend is the environment's own setuptools.
dist: install
	@mkdir -p $(DIST)
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation -w $(DIST) .
	$(BIN)/litmine models package --out $(DIST)

clean:
	rm -rf $(VENV) .pytest_cache $(DB) $(DB).wal build $(DIST) litmine.egg-info
