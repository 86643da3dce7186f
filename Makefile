# Front door. Every target sets up what it needs first, so each one works from a fresh clone.
SHELL := /bin/bash
BUILD_DIR := build/cmake
PY := build/venv/bin/python
JOBS ?= $(shell nproc)
MODEL_DIR ?= models/faithful

.PHONY: setup build models test test-cpp test-python run demo bench clean

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

models/probe/.complete: tools/models/probe.py tools/models/assets.py | setup
	@$(PY) -m tools.models.probe --out models/probe
	@touch $@

models/faithful/.complete: tools/models/faithful.py tools/models/assets.py | setup
	@$(PY) -m tools.models.faithful --out models/faithful
	@touch $@

models: models/probe/.complete models/faithful/.complete

test: build models
	@$(MAKE) --no-print-directory test-cpp test-python

test-cpp:
	@cd $(BUILD_DIR) && SUPERTONIC_REPO=$(CURDIR) ctest --output-on-failure

test-python:
	@$(PY) -m pytest tests/python -q

# Until the service exists: a synthesis demo on the model in MODEL_DIR.
run: build models
	@build/bin/supertonic-tts synth --model-dir $(MODEL_DIR) --voice F1 --lang en \
	  --text "Hello from Supertonic. This is a synthesis demo." -o build/demo.wav
	@echo "wrote build/demo.wav"

bench: build models
	@$(PY) bench/engine_bench.py --model-dir models/faithful --out bench/results/engine.json

clean:
	rm -rf $(BUILD_DIR) build/bin
