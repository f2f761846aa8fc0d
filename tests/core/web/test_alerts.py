"""The alerting rules shipped in docs/deploy/citybase-alerts.yml parse, and every metric they
name is one the app's /metrics exposes (or Prometheus's own ``up``)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

RULES = Path(__file__).parents[3] / "docs" / "deploy" / "citybase-alerts.yml"
PROMETHEUS_OWN = {"up"}
SUFFIXES = ("", "_total", "_bucket", "_count", "_sum", "_created")


def _exposed(client: TestClient) -> set[str]:
    text = client.get("/metrics").text
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in SUFFIXES}
        names |= {sample.name for sample in family.samples}
    return names


def test_every_alert_names_a_metric_the_app_exposes(client: TestClient) -> None:
    rules = [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]
    assert len(rules) >= 8
    exposed = _exposed(client)
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
        assert rule["labels"]["severity"] in ("critical", "warning")
        named = set(re.findall(r"\b(citybase_[a-z0-9_]+|up)\b", rule["expr"]))
        assert named, f"{rule['alert']} names no metric"
        unknown = named - exposed - PROMETHEUS_OWN
        assert not unknown, f"{rule['alert']} names metrics the app does not expose: {unknown}"


def test_a_metric_the_app_does_not_expose_would_be_found(client: TestClient) -> None:
    exposed = _exposed(client)
    assert "citybase_jobs_overdue" in exposed
    assert "citybase_http_requests_total" in exposed
    assert "citybase_no_such_thing" not in exposed
