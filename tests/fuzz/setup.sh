#!/usr/bin/env bash
# Installs what `make fuzz` needs beyond scripts/setup.sh: clang and its
# compiler-rt (libFuzzer, ASan, UBSan runtimes) from Debian 12. Kept out of
# scripts/setup.sh because `make test` does not fuzz. Idempotent.
set -euo pipefail
PACKAGES=(clang libclang-rt-14-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "fuzz setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
