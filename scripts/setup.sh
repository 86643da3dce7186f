#!/usr/bin/env bash
# Installs everything the build, the tests and the benchmarks need on Debian 12.
# Idempotent: a second run only checks, and ONNX Runtime downloads are cached
# under build/_deps so a rebuild never fetches them again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config ca-certificates curl unzip xz-utils
  libboost1.81-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libsoxr-dev
  libutf8proc-dev libsndfile1-dev libcli11-dev prometheus-cpp-dev libcurl4-openssl-dev libssl-dev
  libmp3lame-dev libopusenc-dev libflac-dev
  libonnx-dev libprotobuf-dev
  libicu-dev libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-venv python3-pip
)

"$ROOT/scripts/apt_install.sh" setup "${APT_PACKAGES[@]}"

# ONNX Runtime: a user-supplied root (ORT_ROOT with include/ and lib/) wins.
if [ -z "${ORT_ROOT:-}" ]; then
  "$ROOT/scripts/fetch_onnxruntime.sh"
fi

# OpenVINO (the engine's openvino backend, TTS_BACKEND=openvino): a user-supplied
# root (OPENVINO_ROOT) wins, as for ONNX Runtime.
if [ -z "${OPENVINO_ROOT:-}" ]; then
  "$ROOT/scripts/fetch_openvino.sh"
fi

# Python environment for model generation, decoding, baselines and client tests.
VENV="$ROOT/build/venv"
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv "$VENV"
fi
STAMP="$VENV/.requirements.sha"
want=$(sha256sum "$ROOT/tools/requirements.txt" | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  "$VENV/bin/pip" install -q --upgrade pip
  # A venv from before the client split (one clients/python distribution,
  # livekit-plugins-supertonic, that owned bin/supertonic-say): remove it first,
  # or reinstalling it from its new place would delete the supertonic-say that
  # supertonic-client has just installed.
  if "$VENV/bin/python" - <<'PY'
import importlib.metadata as md, sys
try:
    dist = md.distribution("livekit-plugins-supertonic")
except md.PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if any(e.name == "supertonic-say" for e in dist.entry_points) else 1)
PY
  then
    "$VENV/bin/pip" uninstall -q -y livekit-plugins-supertonic
  fi
  "$VENV/bin/pip" install -q -r "$ROOT/tools/requirements.txt"
  echo "$want" > "$STAMP"
fi
echo "setup: ok"
