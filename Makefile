# Front door. Every target sets up what it needs first, so each one works from a fresh clone.
SHELL := /bin/bash
BUILD_DIR := build/cmake
PY := build/venv/bin/python
JOBS ?= $(shell nproc)
MODEL_DIR ?= models/faithful

.PHONY: setup build models test test-cpp test-python test-fast run demo bench clean test-asan test-tsan fuzz ci docs build-asan build-tsan build-fuzz

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

# The Supertonic 3 interface (8322 text ids, its 31 languages and `na`), beside the v2 ones.
models/probe-v3/.complete: tools/models/probe.py tools/models/assets.py | setup
	@$(PY) -m tools.models.probe --version 3 --out models/probe-v3
	@touch $@

models: models/probe/.complete models/faithful/.complete models/probe-v3/.complete

# Both suites always run; the target fails if either does.
test: build models
	@status=0; \
	$(MAKE) --no-print-directory test-cpp || status=1; \
	$(MAKE) --no-print-directory test-python || status=1; \
	exit $$status

test-cpp:
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The playground test drives a headless Chromium and the scale-out test runs the
# replicas behind HAProxy: installed for the tests only, so that `make build`
# (and the Docker build stage) does without them.
# ruff (ruff.toml) first: it takes a second. PYTEST_WORKERS test files at once
# (pytest-xdist, each file on one worker): the tests mostly wait on servers and
# sockets, so two workers take ~55% of the serial time on two cores.
PYTEST_WORKERS ?= 2
test-python:
	@bash scripts/apt_install.sh test chromium chromium-driver haproxy
	@build/venv/bin/ruff check --quiet .
	@$(PY) -m pytest tests/python -q -n $(PYTEST_WORKERS) --dist loadfile

# The inner loop: the pytest suites without the tests marked `slow` (more than
# ~5 s each; pytest.ini). `make test` runs everything.
test-fast:
	@bash scripts/apt_install.sh test chromium chromium-driver haproxy
	@build/venv/bin/ruff check --quiet .
	@$(PY) -m pytest tests/python -q -m "not slow" -n $(PYTEST_WORKERS) --dist loadfile

# The service on port 8000 (TTS_* variables configure it). Uses the real model
# TTS_MODEL (supertonic-2, the default, or supertonic-3) in TTS_MODEL_DIR
# (default models/$(TTS_MODEL)); when it is absent, downloads it there first
# (`supertonic-tts download`: pinned revision, resumable, checksum-verified,
# base URLs tried in order, SUPERTONIC_MODEL_BASE_URLS to change them; skip with
# MODEL_DOWNLOAD=never). Without a model (no network, download failed) it serves
# the generated probe model, which answers the full protocol with tones, not speech.
TTS_MODEL ?= supertonic-2
TTS_MODEL_DIR ?= models/$(TTS_MODEL)
MODEL_DOWNLOAD ?= auto
run: build
	@if [ ! -f "$(TTS_MODEL_DIR)/onnx/vocoder.onnx" ] && [ "$(MODEL_DOWNLOAD)" != never ]; then \
	  echo "No model in $(TTS_MODEL_DIR): downloading $(TTS_MODEL) from Hugging Face (a few hundred MB, resumable)."; \
	  build/bin/supertonic-tts download --model "$(TTS_MODEL)" --dest "$(TTS_MODEL_DIR)" --connect-timeout 10 \
	    || echo "NOTE: the model download failed (see above); a later 'make run' resumes it."; \
	fi; \
	if [ -f "$(TTS_MODEL_DIR)/onnx/vocoder.onnx" ]; then \
	  TTS_MODEL_DIR=$(TTS_MODEL_DIR) exec env -u TTS_MODEL build/bin/supertonic-tts serve; \
	else \
	  $(MAKE) --no-print-directory models/probe/.complete; \
	  echo "NOTE: no model in $(TTS_MODEL_DIR); serving the generated probe model (tones, not speech)."; \
	  echo "      For real speech: build/bin/supertonic-tts download --model $(TTS_MODEL) --dest $(TTS_MODEL_DIR) (see docs/deployment.md)."; \
	  TTS_MODEL_DIR=models/probe exec env -u TTS_MODEL build/bin/supertonic-tts serve; \
	fi

# A WAV file from text, without the service.
demo: build models
	@build/bin/supertonic-tts synth --model-dir $(MODEL_DIR) --voice F1 --lang en \
	  --text "Hello from Supertonic. This is a synthesis demo." -o build/demo.wav

bench: build models
	@$(PY) bench/engine_bench.py --model-dir models/faithful --out bench/results/engine.json
	@build/bin/normalization_bench --model-dir models/faithful --texts bench/normalization_texts.json --out bench/results/normalization.json > /dev/null

# docs/configuration.md's table, from the server's own variable table, and the
# error tables of docs/protocol.md and docs/http-api.md, from its error table
# (a test checks each).
docs: build
	@$(PY) -m tools.docs.configuration_table
	@$(PY) -m tools.docs.error_tables

clean:
	rm -rf $(BUILD_DIR) build/bin

# --- Reliability: sanitizers, fuzzing, and the CI entry point ------------------
# Each builds into its own directory, so build/cmake and build/bin stay the
# normal build. See tests/sanitizers/run.sh and tests/fuzz/run.sh.
# Compile time rules here (2 cores in CI): -g1 (functions and lines, enough for
# reports), and -O0 for ASan+UBSan, whose instrumentation triples the -O1 compile
# time of the Beast translation unit; the model's compute is in ONNX Runtime,
# which is not instrumented either way. Asserts stay on (no NDEBUG).
# OpenVINO is left out of them (its TBB dlopens tbbbind with RTLD_DEEPBIND, which
# the sanitizer runtimes refuse): the backend's tests skip there and run in `make test`.
# Unity builds (several sources per compiler run): at -O0 with sanitizers most
# of a file's compile time is emitting the JSON and GoogleTest templates it
# uses, which a unity batch emits once for all its files. The normal build
# stays one file per compiler run, so a missing include still shows there.
SAN_CMAKE := -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSUPERTONIC_BUILD_BENCH=OFF -DSUPERTONIC_OPENVINO=OFF -DCMAKE_UNITY_BUILD=ON

# Every GoogleTest suite and the service integration tests, against an
# AddressSanitizer + UndefinedBehaviorSanitizer build (build/asan).
test-asan: setup models
	@$(MAKE) --no-print-directory build-asan
	@bash tests/sanitizers/run.sh asan

# The concurrency tests against a ThreadSanitizer build (build/tsan): only the
# targets they run are built.
test-tsan: setup models
	@$(MAKE) --no-print-directory build-tsan
	@bash tests/sanitizers/run.sh tsan

# libFuzzer targets (clang; build/fuzz), FUZZ_SECONDS each. The long form, by hand:
#   make fuzz FUZZ_SECONDS=3600      (or: tests/fuzz/run.sh 3600 accumulator)
FUZZ_SECONDS ?= 30
fuzz: setup
	@bash tests/fuzz/setup.sh
	@$(MAKE) --no-print-directory build-fuzz
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS)

# The three builds alone, once `make setup` (and for build-fuzz tests/fuzz/setup.sh)
# has run: what CI builds in the background while tests run.
build-asan:
	@cmake -S . -B build/asan $(SAN_CMAKE) "-DCMAKE_CXX_FLAGS_DEBUG=-O0 -g1" -DSUPERTONIC_SANITIZE=address,undefined > /dev/null
	@cmake --build build/asan -j $(JOBS)
build-tsan:
	@cmake -S . -B build/tsan $(SAN_CMAKE) "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DSUPERTONIC_SANITIZE=thread > /dev/null
	@cmake --build build/tsan -j $(JOBS) --target supertonic-tts service_thread_tests concurrency_tests
build-fuzz:
	@CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSUPERTONIC_FUZZ=ON > /dev/null
	@cmake --build build/fuzz -j $(JOBS)

# What CI runs (.ci/run): `make test`, then the sanitizer and fuzzing runs,
# every one even when an earlier one failed; fails if any did, and ends with
# each step's result and time. The sanitizer and fuzz builds run in the
# background at the lowest CPU priority while the tests before them run
# (those mostly wait on servers and sockets): see scripts/ci.sh.
ci:
	@bash scripts/ci.sh
