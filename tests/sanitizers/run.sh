#!/usr/bin/env bash
# Runs the tests against a sanitizer build (make test-asan / make test-tsan).
#   tests/sanitizers/run.sh asan   build/asan: every GoogleTest suite (ctest) and the
#                                  service integration tests (pytest) against the
#                                  ASan+UBSan server
#   tests/sanitizers/run.sh tsan   build/tsan: the concurrency tests: service_thread_tests,
#                                  concurrency_tests (the engine's shared objects), and the
#                                  streaming/concurrency integration tests (hostile clients
#                                  included: slow readers, floods, drain; several models sharing
#                                  one queue; voices uploaded and deleted during synthesis; replies
#                                  made on the HTTP worker thread) against
#                                  the TSan server
# The pytest runs use two workers (pytest-xdist, -n 2 --dist loadfile: each file's
# tests, and its module-scoped servers, stay on one worker): a sanitizer server
# leaves the CPU mostly idle, so two files at a time about halve these runs.
# Every sanitizer report (from a test binary or from a server the Python tests
# start) goes to build/<kind>/reports/; the run fails if any is there, and
# prints them. Suppressions: tests/sanitizers/*.supp (each entry explained there).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
KIND=${1:?usage: run.sh asan|tsan}
BUILD=$ROOT/build/$KIND
REPORTS=$BUILD/reports
SUPP=$ROOT/tests/sanitizers
PY=$ROOT/build/venv/bin/python
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
export SUPERTONIC_TTS_BINARY=$BUILD/bin/supertonic-tts
export SUPERTONIC_SANITIZER=$KIND
export PYTHONDONTWRITEBYTECODE=1
symbolizer=$(command -v llvm-symbolizer || true)
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH=$symbolizer TSAN_SYMBOLIZER_PATH=$symbolizer

status=0
run_step() {  # name, command...
  local name=$1; shift
  local t0=$SECONDS
  echo "== $KIND: $name"
  "$@" || { echo "== $KIND: $name FAILED"; status=1; }
  echo "== $KIND: $name took $((SECONDS - t0)) s"
}

case "$KIND" in
  asan)
    export ASAN_OPTIONS="log_path=$REPORTS/asan:detect_leaks=1:halt_on_error=1:strict_init_order=1:check_initialization_order=1:detect_stack_use_after_return=0"
    export LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="log_path=$REPORTS/ubsan:print_stacktrace=1:halt_on_error=1"
    # Left out: faithful-model tests whose C++ path a probe-model twin runs
    # here too (ProbeBatchAudio, ProbeSynthesizer, FaithfulVocoder's batch
    # case); what they add is ONNX Runtime's arithmetic on the larger graphs,
    # which ASan does not instrument (about a minute of CPU). `make test` runs them.
    run_step "GoogleTest suites (ctest)" ctest --test-dir "$BUILD" --output-on-failure -j 2 \
      -E '^(FaithfulBatchAudio\.|FaithfulSynthesizer\.|FaithfulVocoder\.ChunkedEqualsFullForManyLengthsAndPlans$)'
    run_step "service integration tests (pytest)" \
      "$PY" -m pytest -q -p no:cacheprovider -n 2 --dist loadfile \
        tests/python/service/test_service_protocol.py tests/python/service/test_service_streaming.py \
        tests/python/service/test_service_ops.py tests/python/service/test_reliability.py tests/python/service/test_hostile_clients.py \
        tests/python/service/test_batching.py tests/python/service/test_service_models.py tests/python/service/test_supertonic3.py \
        tests/python/service/test_silence_trim.py tests/python/service/test_normalization.py tests/python/service/test_voices.py \
        tests/python/service/test_word_timings.py tests/python/service/test_connection_guards.py
    ;;
  tsan)
    export TSAN_OPTIONS="log_path=$REPORTS/tsan:suppressions=$SUPP/tsan.supp:second_deadlock_stack=1:halt_on_error=0:report_signal_unsafe=0"
    export UBSAN_OPTIONS="log_path=$REPORTS/ubsan:print_stacktrace=1"
    # service_thread_tests: the service suites that run code on more than one
    # thread; the single-threaded ones (parsers, audio) are ASan's.
    run_step "service_thread_tests" "$BUILD/bin/service_thread_tests" --gtest_brief=1
    run_step "concurrency_tests (the engine objects the service shares between threads)" \
      "$BUILD/bin/concurrency_tests" --gtest_brief=1
    run_step "streaming and concurrency integration tests (pytest)" \
      "$PY" -m pytest -q -p no:cacheprovider -n 2 --dist loadfile \
        tests/python/service/test_service_streaming.py tests/python/service/test_reliability.py tests/python/service/test_hostile_clients.py \
        tests/python/service/test_service_models.py tests/python/service/test_normalization.py tests/python/service/test_voices.py \
        tests/python/service/test_word_timings.py tests/python/service/test_connection_guards.py
    ;;
  *) echo "unknown kind $KIND (asan or tsan)"; exit 2 ;;
esac

reports=$(find "$REPORTS" -type f | sort)
if [ -n "$reports" ]; then
  echo
  echo "== $KIND: $(echo "$reports" | wc -l) sanitizer report file(s) in $REPORTS:"
  for f in $reports; do
    echo "---- $f"
    head -60 "$f"
  done
  status=1
fi
[ $status -eq 0 ] && echo "== $KIND: ok" || echo "== $KIND: FAILED"
exit $status
