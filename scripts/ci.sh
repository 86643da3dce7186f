#!/usr/bin/env bash
# make ci: `make test`, `make test-asan`, `make test-tsan` and `make fuzz`,
# every one even when an earlier one failed; exits 1 if any did, and ends
# with each step's result and time.
#
# On a 2-core machine the tests keep the CPU less than half busy (they wait on
# servers, sockets and timeouts), while the three instrumented builds need
# it whole. So, once everything is installed (apt is one installer at a
# time), the sanitizer and fuzz builds run one after another in the
# background at the lowest priority (nice 19: a test's process wins any
# contended core), and each step waits only for its own build. A background
# build that fails is reported, and its step builds again in the foreground
# (and fails there, with the compiler's message in the step's output).
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
CI=build/ci
rm -rf "$CI"
mkdir -p "$CI"
t0=$SECONDS
status=0
summary=""

# CPU seconds the whole machine has spent busy so far (from /proc/stat): what
# a step used, the background builds included, and so how much was left idle.
cpu_busy_seconds() {
  local _cpu user nice system idle iowait irq softirq steal _rest
  read -r _cpu user nice system idle iowait irq softirq steal _rest < /proc/stat
  echo $(((user + nice + system + irq + softirq + steal) / $(getconf CLK_TCK)))
}
cpu_t0=$(cpu_busy_seconds)
step_cpu0=$cpu_t0

step_done() {  # name, result, seconds
  local cpu=$(($(cpu_busy_seconds) - step_cpu0))
  local cores=$(nproc)
  local busy=$((100 * cpu / (cores * ($3 > 0 ? $3 : 1))))
  summary+=$(printf '\nci:   %-16s %-6s %5d s  (CPU %5d s, %3d%% of %d cores)' "$1" "$2" "$3" "$cpu" "$busy" "$cores")
  echo "ci: $1 took $3 s (CPU $cpu s, $busy% of $cores cores busy)"
  step_cpu0=$(cpu_busy_seconds)
}

start=$SECONDS
if make --no-print-directory setup && bash tests/fuzz/setup.sh &&
   bash scripts/apt_install.sh test chromium chromium-driver haproxy; then
  step_done setup ok $((SECONDS - start))
else
  step_done setup FAILED $((SECONDS - start))
  status=1
fi

# The background builds: build/ci/<kind>.rc holds each one's exit status once done.
(
  for kind in asan tsan fuzz; do
    b0=$SECONDS
    nice -n 19 make --no-print-directory JOBS="$JOBS" "build-$kind" > "$CI/$kind.log" 2>&1
    rc=$?
    echo "$((SECONDS - b0))" > "$CI/$kind.seconds"
    echo "$rc" > "$CI/$kind.rc"
  done
) &
builder=$!

wait_for_build() {  # kind
  while [ ! -f "$CI/$1.rc" ]; do sleep 2; done
  local rc
  rc=$(cat "$CI/$1.rc")
  echo "ci: the $1 build took $(cat "$CI/$1.seconds") s in the background (exit $rc)"
  if [ "$rc" != 0 ]; then
    echo "ci: the $1 build FAILED in the background; its log ($CI/$1.log) ends:"
    tail -30 "$CI/$1.log"
  fi
}

run_step() {  # name, make target, background build to wait for (or -)
  local name=$1 target=$2 kind=$3
  local s0=$SECONDS
  [ "$kind" != - ] && wait_for_build "$kind"
  if make --no-print-directory "$target"; then
    step_done "$name" ok $((SECONDS - s0))
  else
    echo "ci: $name FAILED"
    step_done "$name" FAILED $((SECONDS - s0))
    status=1
  fi
}

run_step test test -
run_step test-asan test-asan asan
run_step test-tsan test-tsan tsan
run_step fuzz fuzz fuzz
wait "$builder"

echo "ci: summary (a step's time includes waiting for its background build)$summary"
cpu_total=$(($(cpu_busy_seconds) - cpu_t0))
echo "ci: total $((SECONDS - t0)) s (CPU $cpu_total s on $(nproc) cores)"
exit $status
