"""The server's error table (`supertonic-tts errors`, from src/service/errors.cpp)
against what depends on it outside the binary: the asyncio client's exception
classes (clients/python/supertonic-client). A code added to the server and
not to the client, or a retryable flag that differs, fails here (the docs'
tables are checked in test_docs_links.py)."""
from __future__ import annotations

import pytest

from service_support import BINARY
from tools.docs.error_tables import table_json

stc = pytest.importorskip("supertonic_client", reason="pip install -e ./clients/python/supertonic-client")

pytestmark = pytest.mark.skipif(not BINARY.exists(), reason="the server is not built")


@pytest.fixture(scope="module")
def table() -> list[dict]:
    return table_json(BINARY)


def test_the_table_has_each_code_once_with_http_error_statuses(table):
    codes = [e["code"] for e in table]
    assert len(codes) == len(set(codes)), codes
    for e in table:
        assert e["websocket"] or e["http"], e
        assert e["http_statuses"][0] == e["http_status"], e
        assert all(400 <= s <= 599 for s in e["http_statuses"]), e
        assert e["meaning"], e


def test_every_code_has_its_client_exception_class(table):
    missing = [e["code"] for e in table if e["code"] not in stc.ERROR_CLASSES]
    assert not missing, f"supertonic_client.ERROR_CLASSES lacks {missing}"
    for e in table:
        cls = stc.ERROR_CLASSES[e["code"]]
        assert cls.code == e["code"], (cls, e)
        assert cls.retryable == e["retryable"], (cls, e)
        # A request the server refuses for what it is fails the same way again.
        assert issubclass(cls, stc.InvalidRequestError) == (not e["retryable"] and e["code"] != "unauthorized"), cls
        raised = stc.server_error(e["code"], "m")
        assert type(raised) is cls and raised.retryable == e["retryable"], (raised, e)


def test_the_client_knows_no_code_the_server_does_not_send(table):
    stale = set(stc.ERROR_CLASSES) - {e["code"] for e in table}
    assert not stale, f"codes the server does not have: {sorted(stale)}"


def test_the_clients_http_retry_rule_agrees_with_the_table(table):
    """HTTP error bodies carry no retryable flag: the voice API client infers it
    from the status (``http_retryable``)."""
    for e in table:
        if e["http"]:
            for status in e["http_statuses"]:
                assert stc.http_retryable(status) == e["retryable"], (status, e)
