"""Build the demo city in a database: Fuzhou's regions and units, and one user per role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from citybase.core.db.engine import Database
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Role, UserCreate
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceCreate, Transition

DEMO_FILE = Path(__file__).parent / "fuzhou.yaml"
CATALOG_FILE = Path(__file__).parent / "catalog.yaml"
# the steps from a draft to each state, and who takes them (the provider or the bureau)
PATH_TO = {
    "draft": [],
    "submitted": ["submit"],
    "reviewed": ["submit", "approve"],
    "registered": ["submit", "approve", "register"],
    "published": ["submit", "approve", "register", "publish"],
}
DEMO_PASSWORD = "citybase-demo"  # noqa: S105 -- printed for the demo city on purpose
DEMO_ACTOR = Actor.system("demo")


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    unit_code: str


DEMO_USERS = (
    DemoUser("admin", "平台管理员 王敏", Role.platform_admin, "fz.bigdata"),
    DemoUser("unitadmin", "城管委管理员 林峰", Role.unit_admin, "fz.urban"),
    DemoUser("steward", "数据专员 陈静", Role.data_steward, "fz.bigdata"),
    DemoUser("consumer", "卫健委数据使用者 黄磊", Role.data_consumer, "fz.health"),
    DemoUser("operator", "12345话务员 郑丽", Role.hotline_operator, "fz.hotline"),
    DemoUser("handler", "鼓楼区城管局承办人 刘洋", Role.case_handler, "gl.urban"),
    DemoUser("supervisor", "联排联调中心督办员 吴强", Role.supervisor, "fz.coord"),
    DemoUser("viewer", "智慧福州中心观察员 张华", Role.viewer, "fz.smartcity"),
)


def demo_exists(db: Database) -> bool:
    with db.session_scope(readonly=True) as session:
        return identity.count_users(session) > 0


def build_demo(
    db: Database, settings: Settings, step: Callable[[str], None] = lambda _: None
) -> None:
    """Create the demo city in an empty database (all in one transaction)."""
    with db.session_scope() as session:
        step("regions and units")
        reports = orgs.import_orgs(session, DEMO_ACTOR, DEMO_FILE.name, DEMO_FILE.read_bytes())
        problems = [p for r in reports for p in r.problems]
        if problems:
            raise RuntimeError(f"the demo data does not import: {problems[:3]}")
        step("users")
        for user in DEMO_USERS:
            identity.create_user(
                session,
                None,
                UserCreate(
                    username=user.username,
                    display_name=user.display_name,
                    password=DEMO_PASSWORD,
                    unit_code=user.unit_code,
                    roles=[user.role],
                ),
                actor=DEMO_ACTOR,
            )
        step("data resources")
        seed_catalog(session)
        step("signed tree head")
        ledger.store_tree_head(session, ledger.signer_for(settings))


def seed_catalog(session: Session) -> None:
    """Register the demo resources as the platform admin, reviewed by the bureau's steward."""
    admin = identity.principal_for(session, "admin")
    bureau = identity.principal_for(session, "steward")
    for entry in yaml.safe_load(CATALOG_FILE.read_text()):
        items = []
        for line in entry.pop("items"):
            name, data_type, length, meaning, element = line.split("|")
            items.append(
                {"name": name, "data_type": data_type, "length": length or None,
                 "meaning": meaning, "element": element}
            )  # fmt: skip
        target = entry.pop("status")
        data = ResourceCreate.model_validate(
            {**entry, "provider_unit_code": entry.pop("unit"), "items": items}
        )
        resource = catalog.create_resource(session, admin, data)
        for action in PATH_TO[target]:
            actor = (
                admin if action == "submit" or data.provider_unit_code == "fz.bigdata" else bureau
            )
            catalog.transition(session, actor, resource.code, action, Transition())
