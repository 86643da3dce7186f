#!/usr/bin/env bash
# Obtains ONNX Runtime for the C++ build without a system package (Debian 12 has
# none): the C API headers from Debian trixie's libonnxruntime-dev (headers only:
# its library needs a newer glibc), and the official CPU library shipped inside
# the onnxruntime wheel on PyPI. Result: build/_deps/onnxruntime/{include,lib}.
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_VERSION="${ORT_VERSION:-1.31.1}"
DEST="build/_deps/onnxruntime"
CACHE="build/_deps/cache"
if [ -f "$DEST/.version" ] && [ "$(cat "$DEST/.version")" = "$ORT_VERSION" ]; then
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

# Runtime library.
wheel=$(ls "$CACHE"/onnxruntime-"$ORT_VERSION"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
    --python-version 3.11 -d "$CACHE" "onnxruntime==$ORT_VERSION"
  wheel=$(ls "$CACHE"/onnxruntime-"$ORT_VERSION"-*.whl | head -1)
fi
lib_tmp=$(mktemp -d)
unzip -q -o "$wheel" 'onnxruntime/capi/libonnxruntime*.so*' -d "$lib_tmp"
cp "$lib_tmp"/onnxruntime/capi/libonnxruntime* "$DEST/lib/"
rm -rf "$lib_tmp"
(cd "$DEST/lib" && ln -sf "libonnxruntime.so.$ORT_VERSION" libonnxruntime.so.1 && ln -sf libonnxruntime.so.1 libonnxruntime.so)
echo "$ORT_VERSION" > "$DEST/.version"
echo "onnxruntime $ORT_VERSION ready in $DEST"
