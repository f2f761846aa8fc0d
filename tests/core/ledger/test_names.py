"""The ledger's actions by name: their own, else named from their parts."""

from __future__ import annotations

from citybase.core.ledger.names import action_name, object_name


def test_an_action_is_named_by_its_name_or_its_parts() -> None:
    assert action_name("zh", "sharing.read") == "读取共享数据"
    assert action_name("zh", "hub.case.sign") == "中枢 · 工单 · 签收"
    assert action_name("zh", "hub.case.frobnicate") == "中枢 · 工单 · frobnicate"  # kept
    assert action_name("en", "sharing.read") == "sharing.read"
    assert object_name("zh", "data_resource") == "数据资源"
    assert object_name("en", "data_resource") == "data resource"
