#!/bin/sh
# The image's `supertonic-tts` command (and its entrypoint): runs the binary with
# the libraries it was built with (only this process sees them, so the image's
# own tools keep the system ones), and, before `serve`, fetches each model that
# is absent when MODEL_DOWNLOAD is `auto` (the default): the one in
# TTS_MODEL_DIR, or with TTS_MODELS (name=dir,...) each one named supertonic-2
# or supertonic-3 (the downloader's models; others must be mounted).
# With the models mounted or baked in, nothing is downloaded.
set -eu
HOME_DIR="${SUPERTONIC_HOME:-/opt/supertonic}"  # what deploy/docker/collect-runtime.sh gathered
BIN="$HOME_DIR/bin/supertonic-tts"
LD_LIBRARY_PATH="$HOME_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH

trim() { printf '%s' "$1" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//'; }

# fetch MODEL DIR [--model NAME]: downloads the model into DIR unless it is there.
fetch() {
  name="$1" dir="$2"
  shift 2
  [ ! -f "$dir/onnx/vocoder.onnx" ] || return 0
  case "${MODEL_DOWNLOAD:-auto}" in
    auto)
      echo "No model in $dir: downloading $name (mount a volume there to keep it across containers)." >&2
      if ! "$BIN" download "$@" --dest "$dir"; then
        echo "error: the model download failed (above). Mount the model instead:" >&2
        echo "  docker run ... -v /path/to/$name:$dir:ro ..." >&2
        exit 1
      fi
      ;;
    never) ;;  # the server reports the missing model itself
    *) echo "error: MODEL_DOWNLOAD must be auto or never, got '$MODEL_DOWNLOAD'" >&2; exit 2 ;;
  esac
}

[ $# -gt 0 ] || set -- serve
if [ "$*" = serve ]; then  # not for `serve --help-env`
  if [ -n "$(trim "${TTS_MODELS:-}")" ]; then
    set -f  # the list is split on commas, never globbed
    old_ifs=$IFS
    IFS=,
    for entry in $TTS_MODELS; do
      IFS=$old_ifs
      case "$entry" in *=*) ;; *) continue ;; esac  # the server reports a malformed list
      name=$(trim "${entry%%=*}")
      dir=$(trim "${entry#*=}")
      case "$name" in
        supertonic-2|supertonic-3) fetch "$name" "$dir" --model "$name" ;;
        *)
          [ -f "$dir/onnx/vocoder.onnx" ] ||
            echo "Model $name in $dir is absent; only supertonic-2 and supertonic-3 are downloaded, mount the others." >&2
          ;;
      esac
      IFS=,
    done
    IFS=$old_ifs
    set +f
  else
    fetch supertonic-2 "${TTS_MODEL_DIR:-/models/supertonic-2}"
  fi
fi
exec "$BIN" "$@"
