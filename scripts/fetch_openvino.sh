#!/usr/bin/env bash
# Obtains OpenVINO for the C++ build (the engine's reduced-precision CPU backend,
# TTS_BACKEND=openvino) from its PyPI wheel, which carries the C++ SDK: the
# headers (openvino/include) and the runtime libraries (openvino/libs). Only what
# the CPU backend needs is unpacked: the core, the ONNX frontend, the CPU plugin
# and TBB/hwloc. Result: build/_deps/openvino/{include,lib}, stamped with the
# version; the wheel stays cached in build/_deps/cache and is checked against
# its pinned SHA-256 before use.
#
# OV_VERSION / OV_WHEEL_SHA256 pick another release; OV_DEST overrides the
# destination. A user-supplied OpenVINO (OPENVINO_ROOT with include/ and lib/ or
# libs/) skips this script (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OV_VERSION="${OV_VERSION:-2026.4.1}"
OV_WHEEL_SHA256="${OV_WHEEL_SHA256:-2d22b1da03f7caf74df30e9f6417d0ab2f637e4a38e08e1dcd294d2c37407aaf}"
DEST="${OV_DEST:-build/_deps/openvino}"
CACHE="build/_deps/cache"
if [ -f "$DEST/.version" ] && [ "$(cat "$DEST/.version")" = "$OV_VERSION" ]; then
  exit 0
fi
mkdir -p "$CACHE"

wheel=$(ls "$CACHE"/openvino-"$OV_VERSION"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
    --python-version 3.11 -d "$CACHE" "openvino==$OV_VERSION"
  wheel=$(ls "$CACHE"/openvino-"$OV_VERSION"-*.whl | head -1)
fi
if [ -n "$OV_WHEEL_SHA256" ]; then
  got=$(sha256sum "$wheel" | cut -d' ' -f1)
  if [ "$got" != "$OV_WHEEL_SHA256" ]; then
    echo "fetch_openvino: $wheel has SHA-256 $got, expected $OV_WHEEL_SHA256; delete it to download again" >&2
    exit 1
  fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unzip -q -o "$wheel" 'openvino/include/*' \
  'openvino/libs/libopenvino.so.*' 'openvino/libs/libopenvino_onnx_frontend.so.*' \
  'openvino/libs/libopenvino_ir_frontend.so.*' 'openvino/libs/libopenvino_intel_cpu_plugin.so' \
  'openvino/libs/libtbb*.so.*' 'openvino/libs/libhwloc.so.*' -d "$tmp"
rm -rf "$DEST"
mkdir -p "$DEST/lib"
mv "$tmp/openvino/include" "$DEST/include"
mv "$tmp"/openvino/libs/* "$DEST/lib/"
core=$(cd "$DEST/lib" && ls libopenvino.so.* | head -1)
(cd "$DEST/lib" && ln -sf "$core" libopenvino.so)
echo "$OV_VERSION" > "$DEST/.version"
echo "openvino $OV_VERSION ready in $DEST ($(du -sh "$DEST" | cut -f1))"
