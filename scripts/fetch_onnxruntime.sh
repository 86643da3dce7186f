#!/usr/bin/env bash
# Obtains ONNX Runtime for the C++ build without a system package (Debian 12 has
# none): the C API headers from Debian trixie's libonnxruntime-dev (headers only:
# its library needs a newer glibc), and the official CPU library shipped inside
# the onnxruntime wheel on PyPI. Result: build/_deps/onnxruntime/{include,lib}.
#
# ORT_FLAVOR=gpu takes the library from the onnxruntime-gpu wheel instead (the
# official CUDA build: the same libonnxruntime.so.1 plus the CUDA execution
# provider, built for CUDA 13 and cuDNN 9, which the host or image must supply).
# Result: build/_deps/onnxruntime-gpu/{include,lib}. A binary built against
# either runs with either (same SONAME and C API): the Docker GPU image builds
# against the CPU one, as CI does, and ships the GPU one. ORT_DEST overrides
# the destination.
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_VERSION="${ORT_VERSION:-1.31.1}"
ORT_FLAVOR="${ORT_FLAVOR:-cpu}"
case "$ORT_FLAVOR" in
  cpu) WHEEL_PACKAGE=onnxruntime; WHEEL_PREFIX=onnxruntime; STAMP="$ORT_VERSION"
       DEST="${ORT_DEST:-build/_deps/onnxruntime}" ;;
  gpu) WHEEL_PACKAGE=onnxruntime-gpu; WHEEL_PREFIX=onnxruntime_gpu; STAMP="$ORT_VERSION gpu"
       DEST="${ORT_DEST:-build/_deps/onnxruntime-gpu}" ;;
  *) echo "fetch_onnxruntime: ORT_FLAVOR must be cpu or gpu, got '$ORT_FLAVOR'" >&2; exit 2 ;;
esac
CACHE="build/_deps/cache"
if [ -f "$DEST/.version" ] && [ "$(cat "$DEST/.version")" = "$STAMP" ]; then
  exit 0
fi
mkdir -p "$CACHE" "$DEST/include" "$DEST/lib"

# Headers.
if ! ls "$CACHE"/libonnxruntime-dev_*.deb >/dev/null 2>&1; then
  apt_dir=$(mktemp -d)
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  echo "deb http://deb.debian.org/debian trixie main" > "$apt_dir/sources.list"
  opts=(-oDir::Etc::SourceList="$apt_dir/sources.list" -oDir::Etc::SourceParts=/dev/null
        -oDir::State::Lists="$apt_dir/lists" -oDir::Cache="$apt_dir/cache"
        -oAPT::Get::List-Cleanup=0)
  apt-get "${opts[@]}" update -qq
  (cd "$CACHE" && apt-get "${opts[@]}" download libonnxruntime-dev)
  rm -rf "$apt_dir"
fi
hdr_tmp=$(mktemp -d)
dpkg -x "$CACHE"/libonnxruntime-dev_*.deb "$hdr_tmp"
cp "$hdr_tmp"/usr/include/onnxruntime/*.h "$DEST/include/"
rm -rf "$hdr_tmp"

# Runtime library (and, for gpu, the CUDA provider; not the TensorRT one, which
# needs TensorRT).
wheel=$(ls "$CACHE"/"$WHEEL_PREFIX"-"$ORT_VERSION"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
    --python-version 3.11 -d "$CACHE" "$WHEEL_PACKAGE==$ORT_VERSION"
  wheel=$(ls "$CACHE"/"$WHEEL_PREFIX"-"$ORT_VERSION"-*.whl | head -1)
fi
lib_tmp=$(mktemp -d)
unzip -q -o "$wheel" 'onnxruntime/capi/libonnxruntime*.so*' -d "$lib_tmp"
rm -f "$lib_tmp"/onnxruntime/capi/libonnxruntime_providers_tensorrt.so
cp "$lib_tmp"/onnxruntime/capi/libonnxruntime* "$DEST/lib/"
rm -rf "$lib_tmp"
(cd "$DEST/lib" && ln -sf "libonnxruntime.so.$ORT_VERSION" libonnxruntime.so.1 && ln -sf libonnxruntime.so.1 libonnxruntime.so)
echo "$STAMP" > "$DEST/.version"
echo "onnxruntime $ORT_VERSION ($ORT_FLAVOR) ready in $DEST"
