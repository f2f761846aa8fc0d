from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Principal
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.datastore import service as datastore
from citybase.data.search import service as search
from tests.data.catalog.factories import make_published

ITEMS = [
    {"name": "停车场名称", "data_type": "string", "length": 100},
    {"name": "所属区划", "data_type": "string", "length": 20},
    {"name": "泊位数", "data_type": "integer"},
    {"name": "收费标准", "data_type": "decimal"},
]
ROWS = [
    {"停车场名称": "东街口停车场", "所属区划": "鼓楼区", "泊位数": 320, "收费标准": "5"},
    {"停车场名称": "万象城停车场", "所属区划": "台江区", "泊位数": 1200, "收费标准": "6.5"},
    {"停车场名称": "三坊七巷停车场", "所属区划": "鼓楼区", "泊位数": 450, "收费标准": "8"},
]


def open_datasets(session: Session, people: dict[str, Principal]) -> dict[str, ResourceRead]:
    """An unconditionally open dataset with rows, a conditionally open one with rows, and one
    that is not open; all published and in the search index."""
    made = {
        "open": make_published(
            session, people, name="公共停车场信息", items=ITEMS, open_type="unconditional",
            keywords=["停车", "泊位"], theme_tags=["交通运输"], base_tags=[],
            abstract="全市公共停车场的名称、区划、泊位数与收费标准。",
        ),
        "conditional": make_published(
            session, people, name="停车场实时泊位信息", items=ITEMS, open_type="conditional",
            open_condition="用于交通出行服务，须说明应用场景", theme_tags=["交通运输"], base_tags=[],
        ),
        "closed": make_published(session, people, name="停车场收费稽查台账", open_type="none"),
    }  # fmt: skip
    for key in ("open", "conditional"):
        datastore.load_rows(session, people["urbansteward"], made[key].code, ROWS, "test")
    search.reindex(session, catalog.all_codes(session))
    return made
