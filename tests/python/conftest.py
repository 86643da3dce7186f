"""Puts the repository root on sys.path so tests can import ``tools.*``, and
this folder, so the tests in its subfolders (service/, clients/, engine/,
deploy/, docs/, bench/) import the shared ``service_support`` and
``client_support``."""
import asyncio
import functools
import inspect
import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parents[1]
for path in (TESTS_DIR, REPO_ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


# --- Service integration tests (test_service_*.py) --------------------------
# Server fixtures live here so every service test module shares them; the
# machinery is in service_support.py.
import pytest  # noqa: E402


@pytest.fixture(scope="module")
def start_server(tmp_path_factory):
    """Factory: start_server(**env) starts `supertonic-tts serve` on the probe
    model with these environment overrides (TTS_PORT=0: the server picks its port), waits for
    /health/startup and returns the ServerProcess (.url, .http, .proc). Every
    server it started is stopped (SIGTERM, then SIGKILL after 10 s) when the
    module's tests are done."""
    from service_support import ServerProcess, ServerStartError

    servers = []

    def start(**env):
        server = ServerProcess(tmp_path_factory.mktemp("tts-server"), **env)
        servers.append(server)
        try:
            return server.start()
        except ServerStartError as e:
            failure = str(e)
        pytest.fail(failure, pytrace=False)

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture(scope="module")
def server(start_server):
    """The module's server with the default configuration."""
    return start_server()


@pytest.fixture(scope="module")
def failing_model_server(start_server, tmp_path_factory):
    """A server on a probe model whose inference fails inside ONNX Runtime for
    texts of more than service_support.FAIL_ABOVE_TOKENS tokens (it loads,
    warms up and speaks shorter ones)."""
    from service_support import make_failing_probe_model

    return start_server(TTS_MODEL_DIR=make_failing_probe_model(tmp_path_factory.mktemp("failing-probe")))


# --- Coroutine tests ---------------------------------------------------------
# `async def test_...` runs in its own event loop (pytest-asyncio, pytest.ini's
# asyncio_mode = auto). Nothing waits without a bound: each one fails with
# TimeoutError after ASYNC_TEST_TIMEOUT_S, or the seconds of its
# @pytest.mark.async_timeout(S).
ASYNC_TEST_TIMEOUT_S = 60.0


def _bounded(test, timeout: float):
    @functools.wraps(test)
    async def bounded(*args, **kwargs):
        return await asyncio.wait_for(test(*args, **kwargs), timeout)
    return bounded


def pytest_collection_modifyitems(items):
    for item in items:
        test = getattr(item, "obj", None)
        if inspect.iscoroutinefunction(test):
            marker = item.get_closest_marker("async_timeout")
            item.obj = _bounded(test, float(marker.args[0]) if marker else ASYNC_TEST_TIMEOUT_S)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and "service_support" in sys.modules:
        for live in list(sys.modules["service_support"].LIVE_SERVERS):
            report.sections.append((f"server on port {live._port or '?'}", live.log_tail(3000)))
