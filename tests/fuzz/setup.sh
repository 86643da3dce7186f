#!/usr/bin/env bash
# Installs what `make fuzz` needs beyond scripts/setup.sh: clang and its
# compiler-rt (libFuzzer, ASan, UBSan runtimes) from Debian 12. Kept out of
# scripts/setup.sh because `make test` does not fuzz. Idempotent.
set -euo pipefail
"$(dirname "$0")/../../scripts/apt_install.sh" "fuzz setup" clang libclang-rt-14-dev
