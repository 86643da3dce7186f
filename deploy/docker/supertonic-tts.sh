#!/bin/sh
# The image's `supertonic-tts` command (and its entrypoint): runs the binary with
# the libraries it was built with (only this process sees them, so the image's
# own tools keep the system ones), and, before `serve`, fetches the model into
# TTS_MODEL_DIR when it is absent and MODEL_DOWNLOAD is `auto` (the default).
# With a model mounted or baked in, nothing is downloaded.
set -eu
HOME_DIR="${SUPERTONIC_HOME:-/opt/supertonic}"  # what deploy/docker/collect-runtime.sh gathered
BIN="$HOME_DIR/bin/supertonic-tts"
LD_LIBRARY_PATH="$HOME_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH

[ $# -gt 0 ] || set -- serve
if [ "$*" = serve ]; then  # not for `serve --help-env`
  model_dir="${TTS_MODEL_DIR:-/models/supertonic-2}"
  if [ ! -f "$model_dir/onnx/vocoder.onnx" ]; then
    case "${MODEL_DOWNLOAD:-auto}" in
      auto)
        echo "No model in $model_dir: downloading it (mount a volume there to keep it across containers)." >&2
        if ! "$BIN" download --dest "$model_dir"; then
          echo "error: the model download failed (above). Mount the model instead:" >&2
          echo "  docker run ... -v /path/to/supertonic-2:$model_dir:ro ..." >&2
          exit 1
        fi
        ;;
      never) ;;  # the server reports the missing model itself
      *) echo "error: MODEL_DOWNLOAD must be auto or never, got '$MODEL_DOWNLOAD'" >&2; exit 2 ;;
    esac
  fi
fi
exec "$BIN" "$@"
