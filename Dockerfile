# syntax=docker/dockerfile:1
# Supertonic TTS server image.
#
#   docker build -t supertonic-tts .                                  # GPU: CUDA 13 + cuDNN 9, ONNX Runtime GPU
#   docker run --gpus all -p 8000:8000 supertonic-tts                  # fetches the model at start if none is mounted
#   docker run --gpus all -p 8000:8000 -v "$PWD/models/supertonic-2:/models/supertonic-2:ro" supertonic-tts
#
#   docker build --build-arg VARIANT=cpu -t supertonic-tts:cpu .      # CPU only, Debian 12 slim
#   docker build --build-arg MODEL=download -t supertonic-tts .       # bake the model into the image
#
# Build arguments:
#   VARIANT     gpu (default) or cpu
#   MODEL       mount (default: the model is mounted at /models/supertonic-2, or fetched there at
#               start) or download (fetched and verified while building, baked into the image)
#   CUDA_IMAGE  the GPU runtime base (CUDA 13 and cuDNN 9 runtime libraries, as ONNX Runtime GPU
#               1.31 needs)
ARG VARIANT=gpu
ARG CUDA_IMAGE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04

# ---------------------------------------------------------------------------
# Build: the command of the README and CI. `make build` runs scripts/setup.sh
# (Debian packages, ONNX Runtime, Python tools) and the CMake build, exactly as
# `make test` (.ci/run) does before testing.
FROM debian:bookworm AS build
ARG VARIANT
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# make is the one thing a fresh Debian 12 lacks to run the README's commands.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make build
# The GPU image ships the official ONNX Runtime GPU library (same SONAME and C
# API as the CPU one the binary was linked against, plus the CUDA provider).
RUN if [ "$VARIANT" = gpu ]; then \
      ORT_FLAVOR=gpu scripts/fetch_onnxruntime.sh && ort=build/_deps/onnxruntime-gpu/lib; \
    elif [ "$VARIANT" = cpu ]; then \
      ort=build/_deps/onnxruntime/lib; \
    else \
      echo "VARIANT must be gpu or cpu, got '$VARIANT'" >&2; exit 1; \
    fi \
 && deploy/docker/collect-runtime.sh /opt/supertonic "$ort"

# ---------------------------------------------------------------------------
# Runtime bases.
FROM ${CUDA_IMAGE} AS runtime-gpu
ENV TTS_DEVICE=cuda

FROM debian:bookworm-slim AS runtime-cpu
ENV TTS_DEVICE=cpu

# ---------------------------------------------------------------------------
# Runtime: the binary, its libraries, a non-root user (uid 10001, numeric so
# Kubernetes can check runAsNonRoot), the model directory.
# hadolint ignore=DL3006
FROM runtime-${VARIANT}
ARG MODEL=mount
SHELL ["/bin/sh", "-e", "-c"]
# curl: the health check; ca-certificates: HTTPS for `supertonic-tts download`.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin tts \
 && mkdir -p /models/supertonic-2 /voices \
 && chown tts:tts /models/supertonic-2 /voices
COPY --from=build /opt/supertonic /opt/supertonic
COPY deploy/docker/supertonic-tts.sh /usr/local/bin/supertonic-tts
ENV TTS_HOST=0.0.0.0 \
    TTS_PORT=8000 \
    TTS_MODEL_DIR=/models/supertonic-2 \
    MODEL_DOWNLOAD=auto
USER 10001:10001
WORKDIR /tmp
RUN if [ "$MODEL" = download ]; then \
      supertonic-tts download --dest /models/supertonic-2; \
    elif [ "$MODEL" != mount ]; then \
      echo "MODEL must be mount or download, got '$MODEL'" >&2; exit 1; \
    fi
EXPOSE 8000
# Ready = model loaded, warm-up done, not draining, below TTS_MAX_SESSIONS.
# The start period covers a first-start model download (263 MB) and warm-up.
HEALTHCHECK --interval=15s --timeout=3s --start-period=300s --retries=3 \
  CMD ["sh", "-c", "curl -fsS -o /dev/null http://127.0.0.1:${TTS_PORT}/health/ready || exit 1"]
# SIGTERM drains open sessions for TTS_SHUTDOWN_GRACE_S (default 30 s): stop
# with `docker stop -t 40` or more.
STOPSIGNAL SIGTERM
ENTRYPOINT ["supertonic-tts"]
CMD ["serve"]
