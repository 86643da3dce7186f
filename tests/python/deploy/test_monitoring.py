"""deploy/monitoring: the alert and recording rules and the Grafana dashboard
parse as PromQL, and every metric and error code they name is one a running
server exports (so a rename cannot silently blind the alerts)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from service_support import requires_server_binary

yaml = pytest.importorskip("yaml")
promql_parser = pytest.importorskip("promql_parser")

MONITORING = Path(__file__).resolve().parents[3] / "deploy" / "monitoring"
RULES = MONITORING / "prometheus-rules.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"

# Grafana variables, replaced by what Grafana would put there.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$pod": ".*"}


def rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    return [rule for group in doc["spec"]["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dash["panels"] for t in panel["targets"]]
    for text, value in GRAFANA_VARIABLES.items():
        exprs = [e.replace(text, value) for e in exprs]
    return exprs


def all_expressions() -> list[str]:
    return [r["expr"] for r in rules()] + dashboard_expressions()


@pytest.mark.parametrize("expr", all_expressions())
def test_every_expression_is_valid_promql(expr):
    promql_parser.parse(expr)


def test_alerts_are_complete():
    alerts = [r for r in rules() if "alert" in r]
    assert len(alerts) >= 5
    for alert in alerts:
        assert alert["labels"]["severity"] in {"info", "warning", "critical"}, alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]
        assert "for" in alert, alert["alert"]
    names = [r.get("alert") or r.get("record") for r in rules()]
    assert len(names) == len(set(names)), "duplicate rule names"


def test_dashboard_panels_are_laid_out_and_use_the_datasource_variable():
    dash = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for panel in dash["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
    assert {v["name"] for v in dash["templating"]["list"]} == {"datasource", "pod"}


@requires_server_binary
def test_every_metric_and_error_code_named_is_exported(server):
    metrics = server.metrics()
    exported = set(metrics.types)
    for name, kind in metrics.types.items():
        if kind == "histogram":
            exported |= {name + "_bucket", name + "_sum", name + "_count"}
    codes = {labels["code"] for name, labels, _ in metrics.samples if name == "tts_errors_total"}
    exprs = all_expressions() + [json.loads(DASHBOARD.read_text())["templating"]["list"][1]["definition"]]
    for expr in exprs:
        for name in re.findall(r"\btts_[a-z_]+", expr):
            assert name in exported, f"{name} (in {expr!r}) is not exported by the server"
        for code in re.findall(r'code="([a-z_]+)"', expr):
            assert code in codes, f"error code {code!r} (in {expr!r}) is not one the server counts"
