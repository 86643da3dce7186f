#!/usr/bin/env bash
# Gathers what a runtime image needs from a build tree into OUT:
#   OUT/bin/supertonic-tts  the server binary
#   OUT/lib/                its shared libraries that a bare base image lacks, and ONNX Runtime
# The C and C++ runtimes (glibc, libstdc++, libgcc_s) are left to the runtime
# image: they are backward compatible, and the GPU image's (Ubuntu 24.04) are
# newer than the build stage's (Debian 12). Every other library comes from the
# build stage, so the binary finds exactly the versions it was linked against.
# Usage: deploy/docker/collect-runtime.sh OUT ORT_LIB_DIR   (run from the repository root)
set -euo pipefail
out=${1:?usage: collect-runtime.sh OUT ORT_LIB_DIR}
ort=${2:?usage: collect-runtime.sh OUT ORT_LIB_DIR}
binary=build/bin/supertonic-tts
[ -x "$binary" ] || { echo "collect-runtime: $binary not built (make build)" >&2; exit 1; }
[ -e "$ort/libonnxruntime.so.1" ] || { echo "collect-runtime: no libonnxruntime.so.1 in $ort" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
cp "$binary" "$out/bin/"
strip --strip-unneeded "$out/bin/supertonic-tts" 2>/dev/null || true

missing=$(ldd "$binary" | awk '/not found/ {print $1}')
[ -z "$missing" ] || { echo "collect-runtime: unresolved libraries: $missing" >&2; exit 1; }
ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
  case "$name" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libresolv.so.*|ld-linux*|libstdc++.so.*|libgcc_s.so.*) ;;
    libonnxruntime*) ;;  # from ORT_LIB_DIR below
    *) cp -L "$path" "$out/lib/$name" ;;
  esac
done
cp -P "$ort"/libonnxruntime* "$out/lib/"
# OpenVINO (TTS_BACKEND=openvino) loads its CPU plugin and ONNX frontend at run
# time from the directory of libopenvino itself: they go beside it.
ov=$(ldd "$binary" | awk '$1 ~ /^libopenvino\.so/ && $3 ~ /^\// {print $3}')
if [ -n "$ov" ]; then
  ov_dir=$(dirname "$(readlink -f "$ov")")
  for lib in "$ov_dir"/libopenvino_intel_cpu_plugin.so "$ov_dir"/libopenvino_*_frontend.so.* "$ov_dir"/libtbb*.so.* \
             "$ov_dir"/libhwloc.so.*; do
    [ -e "$lib" ] && cp -L "$lib" "$out/lib/"
  done
fi
echo "collect-runtime: $(ls "$out/lib" | wc -l) libraries, $(du -sh "$out" | cut -f1) in $out"
