"""The Python client distributions (clients/python/*), each built as a wheel and
installed alone in a clean virtual environment that holds nothing but what
that distribution declares:

- ``supertonic-client`` (``supertonic_client``, ``supertonic-say``): websockets;
- ``livekit-plugins-supertonic`` (``livekit.plugins.supertonic``): livekit-agents
  and supertonic-client;
- ``pipecat-supertonic`` (``pipecat_supertonic``, alias ``supertonic_client.pipecat``):
  pipecat-ai, supertonic-client and websockets.

Offline: the wheels are built with this interpreter's setuptools
(``--no-build-isolation``) and installed with ``--no-index --no-deps``; the
dependencies are this interpreter's installed distributions, the closure of
what the wheel declares, symlinked into a folder the clean environment's
``.pth`` names. The imports run under a meta-path hook that records (and
refuses) every import of a framework the distribution must not use, so a
guarded ``try: import livekit`` is caught too.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

try:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
except ImportError:  # pip always has it
    from pip._vendor.packaging.markers import default_environment
    from pip._vendor.packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[3]
CLIENTS = REPO / "clients" / "python"
# The distributions, each in the folder of its name under clients/python.
OURS = {"supertonic-client", "livekit-plugins-supertonic", "pipecat-supertonic"}
SITE = Path(sysconfig.get_paths()["purelib"])


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _can_build_wheels() -> str | None:
    """What this interpreter lacks to build the wheels offline, if anything
    (without importing setuptools here: it patches distutils)."""
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return "setuptools"
    major, minor = (int(x) for x in re.findall(r"\d+", version)[:2])
    if (major, minor) < (70, 1) and importlib.util.find_spec("wheel") is None:
        return "wheel (setuptools < 70.1 builds wheels with it)"
    return None


_missing = _can_build_wheels()
pytestmark = pytest.mark.skipif(_missing is not None,
                                reason=f"needs {_missing}: pip install -r tools/requirements.txt")


def _env() -> dict[str, str]:
    """An environment for the clean venvs: nothing of this process's Python
    setup (PYTHONPATH in particular) leaks in."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    """The three wheels, built from a copy of the sources (an in-tree
    setuptools build leaves build/ and *.egg-info behind)."""
    tmp = tmp_path_factory.mktemp("client-wheels")
    sources = []
    for folder in sorted(OURS):
        copy = tmp / "src" / folder
        shutil.copytree(CLIENTS / folder, copy,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist"))
        sources.append(str(copy))
    out = tmp / "dist"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "--no-index", "-w", str(out), *sources],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    built = {}
    for wheel in out.glob("*.whl"):
        with zipfile.ZipFile(wheel) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            name = re.search(r"^Name: (.+)$", z.read(meta).decode(), re.M).group(1).strip()
        built[canonical(name)] = wheel
    assert set(built) == OURS, built
    return built


def _applies(req: Requirement, extras: set[str] = frozenset()) -> bool:
    return req.marker is None or any(req.marker.evaluate({**default_environment(), "extra": e})
                                     for e in set(extras) | {""})


def _requires(dist: importlib.metadata.Distribution, extras: set[str]) -> list[Requirement]:
    return [r for r in map(Requirement, dist.requires or []) if _applies(r, extras)]


def closure(requirements: list[Requirement]) -> dict[str, importlib.metadata.Distribution]:
    """Every installed distribution these requirements need, transitively
    (ours left out: they come as wheels)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    extras_seen: dict[str, set[str]] = {}
    todo = [(r, set(r.extras)) for r in requirements if _applies(r)]
    while todo:
        req, extras = todo.pop()
        name = canonical(req.name)
        if name in OURS:
            continue
        if name in found and extras <= extras_seen[name]:
            continue
        try:
            dist = importlib.metadata.distribution(req.name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{req} is not installed here: pip install -r tools/requirements.txt")
        assert req.specifier.contains(dist.version, prereleases=True), f"{req}: {dist.version} is installed"
        assert _in_site(dist), f"{req.name} is installed outside {SITE}: {dist.locate_file('')}"
        found[name] = dist
        extras_seen[name] = extras_seen.get(name, set()) | extras
        todo += [(r, set(r.extras)) for r in _requires(dist, extras)]
    return found


def _in_site(dist: importlib.metadata.Distribution) -> bool:
    return Path(dist.locate_file("")).resolve() == SITE.resolve()


def _entries(dist: importlib.metadata.Distribution) -> set[tuple[str, ...]]:
    """The paths a distribution installed in site-packages (scripts outside it left out)."""
    out = set()
    for f in dist.files or []:
        parts = Path(f).parts
        if parts and parts[0] != ".." and "__pycache__" not in parts:
            out.add(parts)
    return out


def link_dependencies(dists: dict[str, importlib.metadata.Distribution], where: Path) -> None:
    """A folder of symlinks to exactly these distributions' files in
    site-packages: a whole top-level entry when only they own it; a real
    folder with links to their own entries when it is shared (a namespace
    package such as ``livekit`` or ``google``)."""
    owners: dict[tuple[str, ...], set[str]] = {}
    mine: set[tuple[str, ...]] = set()
    for dist in importlib.metadata.distributions():
        if not _in_site(dist):
            continue
        name = canonical(dist.metadata["Name"] or "")
        for parts in _entries(dist):
            for depth in range(1, len(parts) + 1):
                owners.setdefault(parts[:depth], set()).add(name)
            if name in dists:
                mine.add(parts)
    wanted = set(dists)

    def place(prefix: tuple[str, ...]) -> None:
        target = where.joinpath(*prefix)
        children = {p[len(prefix)] for p in mine if len(p) > len(prefix) and p[:len(prefix)] == prefix}
        for child in sorted(children):
            key = prefix + (child,)
            source = SITE.joinpath(*key)
            if owners[key] <= wanted or not source.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                if not (target / child).exists():
                    (target / child).symlink_to(source)
            else:
                place(key)

    where.mkdir(parents=True)
    place(())


def make_venv(tmp: Path, deps: list[str]) -> Path:
    """A clean venv (no system site-packages, no pip) that sees only the
    installed closure of `deps` (requirement strings)."""
    venv = tmp / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(venv)],
                   check=True, env=_env(), timeout=60)
    dists = closure([Requirement(d) for d in deps])
    link_dependencies(dists, tmp / "deps")
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    assert site.is_dir(), site
    (site / "_declared_dependencies.pth").write_text(str(tmp / "deps") + "\n")
    return venv


def pip_install(venv: Path, *wheels: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                           "-q", "--no-index", "--no-deps", "--disable-pip-version-check",
                           *map(str, wheels)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


_GUARD = """
import importlib.abc, json, sys
BLOCKED = set(sys.argv[1].split(",")) - {""}
attempts = []
class Guard(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            attempts.append(name)
            raise ImportError(f"{name} may not be imported here")
        return None
sys.meta_path.insert(0, Guard())
assert not BLOCKED & {m.partition(".")[0] for m in sys.modules}, "imported at startup"
result = {}
"""


def run_in(venv: Path, body: str, blocked: set[str]) -> dict:
    """Runs `body` in the venv (isolated mode) under the guard; returns the
    `result` dict it fills, plus the blocked imports it attempted."""
    code = _GUARD + body + "\nresult['attempts'] = attempts\nprint('RESULT' + json.dumps(result))\n"
    done = subprocess.run([str(venv / "bin" / "python"), "-I", "-c", code, ",".join(sorted(blocked))],
                          capture_output=True, text=True, env=_env(), cwd=venv, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def requires_dist(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return re.findall(r"^Requires-Dist: (.+)$", z.read(meta).decode(), re.M)


def names(requirements: list[str]) -> set[str]:
    return {canonical(Requirement(r).name) for r in requirements}


def metadata(*dists: str) -> str:
    """Code that puts the installed distributions' Requires-Dist and versions
    (importlib.metadata, in the clean venv) into the result."""
    return ("import importlib.metadata as md\n"
            f"result['requires'] = {{d: md.requires(d) or [] for d in {list(dists)!r}}}\n"
            f"result['versions'] = {{d: md.version(d) for d in {list(dists)!r}}}\n")


def check_metadata(result: dict, forbidden: set[str]) -> None:
    for name, reqs in result["requires"].items():
        bad = {n for n in names(reqs) if any(n.startswith(f) for f in forbidden)}
        assert not bad, f"{name} requires {bad}"


def test_supertonic_client_needs_websockets_only(wheels, tmp_path):
    wheel = wheels["supertonic-client"]
    declared = requires_dist(wheel)
    assert names(declared) == {"websockets"}, declared
    venv = make_venv(tmp_path, declared)
    pip_install(venv, wheel)
    result = run_in(venv, """
import supertonic_client as stc, supertonic_client.client, supertonic_client.voices, supertonic_client.errors
import supertonic_client.events, supertonic_client.cli
result['file'] = stc.__file__
result['has'] = all(hasattr(stc, n) for n in ('connect', 'synthesize', 'list_voices', 'SupertonicError'))
try:
    import supertonic_client.pipecat
except ModuleNotFoundError as e:
    result['pipecat'] = str(e)
import subprocess, sys, os
say = os.path.join(os.path.dirname(sys.executable), 'supertonic-say')
result['say'] = subprocess.run([say, '--help'], capture_output=True, text=True).returncode
result['module'] = subprocess.run([sys.executable, '-I', '-m', 'supertonic_client', '--help'],
                                  capture_output=True, text=True).returncode
""" + metadata("supertonic-client"), blocked={"livekit", "pipecat"})
    assert result["attempts"] == [], result
    assert result["file"].startswith(str(venv)) and result["has"], result
    assert "pip install pipecat-supertonic" in result["pipecat"], result
    assert result["say"] == 0 and result["module"] == 0, result
    check_metadata(result, forbidden={"livekit", "pipecat"})


def test_pipecat_supertonic_installs_and_imports_without_livekit(wheels, tmp_path):
    pytest.importorskip("pipecat", reason="pip install -r tools/requirements.txt (pipecat-ai)")
    wheel = wheels["pipecat-supertonic"]
    declared = requires_dist(wheel)
    assert names(declared) == {"pipecat-ai", "supertonic-client", "websockets"}, declared
    others = [r for r in declared if canonical(Requirement(r).name) not in OURS]
    others += requires_dist(wheels["supertonic-client"])
    assert not any(n.startswith("livekit") for n in closure([Requirement(r) for r in others])), \
        "pipecat-ai's dependencies include LiveKit"
    venv = make_venv(tmp_path, others)
    pip_install(venv, wheels["supertonic-client"], wheel)
    result = run_in(venv, """
import pipecat_supertonic
from pipecat_supertonic import SupertonicTTSService, SupertonicTTSSettings
from supertonic_client.pipecat import SupertonicTTSService as Old, SupertonicTTSSettings as OldSettings
from pipecat.services.tts_service import WebsocketTTSService
result['file'] = pipecat_supertonic.__file__
result['same'] = Old is SupertonicTTSService and OldSettings is SupertonicTTSSettings
result['pipecat'] = issubclass(SupertonicTTSService, WebsocketTTSService)
result['livekit_loaded'] = sorted(m for m in sys.modules if m.partition('.')[0] == 'livekit')
""" + metadata("pipecat-supertonic", "supertonic-client"), blocked={"livekit"})
    assert result["attempts"] == [] and result["livekit_loaded"] == [], result
    assert result["file"].startswith(str(venv)) and result["same"] and result["pipecat"], result
    check_metadata(result, forbidden={"livekit"})


def test_livekit_plugin_is_a_livekit_namespace_plugin_without_pipecat(wheels, tmp_path):
    pytest.importorskip("livekit.agents", reason="pip install -r tools/requirements.txt (livekit-agents)")
    wheel = wheels["livekit-plugins-supertonic"]
    declared = requires_dist(wheel)
    assert names(declared) == {"livekit-agents", "supertonic-client"}, declared
    with zipfile.ZipFile(wheel) as z:
        files = [n for n in z.namelist() if ".dist-info/" not in n]
    # LiveKit's layout: livekit/ and livekit/plugins/ are namespace packages.
    assert files and all(f.startswith("livekit/plugins/supertonic/") for f in files), files
    others = [r for r in declared if canonical(Requirement(r).name) not in OURS]
    others += requires_dist(wheels["supertonic-client"])
    assert not any(n.startswith("pipecat") for n in closure([Requirement(r) for r in others]))
    venv = make_venv(tmp_path, others)
    pip_install(venv, wheels["supertonic-client"], wheel)
    result = run_in(venv, """
import livekit, livekit.plugins
from livekit.plugins import supertonic
from livekit.agents import tts
result['file'] = supertonic.__file__
result['namespace'] = [getattr(livekit, '__file__', None), getattr(livekit.plugins, '__file__', None)]
result['tts'] = issubclass(supertonic.TTS, tts.TTS)
result['version'] = supertonic.__version__
""" + metadata("livekit-plugins-supertonic", "supertonic-client"), blocked={"pipecat"})
    assert result["attempts"] == [], result
    assert result["file"].startswith(str(venv)) and result["tts"], result
    assert result["namespace"] == [None, None], result
    assert result["version"] == result["versions"]["livekit-plugins-supertonic"], result
    check_metadata(result, forbidden={"pipecat"})
