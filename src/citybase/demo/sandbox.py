"""The demo city's privacy sandbox (隐私计算沙箱): two personal-data resources and one theme
library declared by the platform admin for their providing units, a privacy budget granted to the
health commission's analyst on each, and one question asked, so that the sandbox page shows
declarations, grants with budget left, and an answer with its cost and accuracy."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from citybase.core.identity import service as identity
from citybase.core.settings import Settings
from citybase.data.catalog import service as catalog
from citybase.data.masking import operators as ops
from citybase.data.sandbox import service as sandbox
from citybase.data.sandbox.schemas import DeclarationCreate, GrantCreate, QueryCreate

ID = "公民身份号码"
# resource (by name) or theme library (by code) → its declaration
DECLARATIONS: dict[str, dict[str, Any]] = {
    "参保人员缴费信息": {
        "identifier": ID, "max_rows_per_person": 1,
        "categorical": {"险种": ["职工医保", "城乡居民医保"], "缴费状态": ["正常", "暂停", "终止"]},
        "numeric": {"缴费基数": {"lower": 0, "upper": 30000}},
    },
    "职业技能培训补贴": {
        "identifier": ID, "max_rows_per_person": 2,
        "categorical": {"培训工种": ["电工", "焊工", "育婴员", "养老护理员", "中式烹调师"],
                        "证书等级": ["初级", "中级", "高级"]},
        "numeric": {"补贴金额": {"lower": 0, "upper": 3000}},
    },
    "employment-training": {  # the theme library 技能培训补贴人员主题库
        "identifier": ID, "max_rows_per_person": 2,
        "categorical": {"培训工种": ["电工", "焊工", "育婴员", "养老护理员", "中式烹调师"],
                        "性别": ["男", "女"]},
        "numeric": {"补贴金额": {"lower": 0, "upper": 3000}},
    },
}  # fmt: skip
ANALYST = "consumer"  # 卫健委数据使用者
PURPOSE = "医保参保与就业补贴人群的卫生健康统计分析"
BASIS = "《数据安全法》第三十八条；《福州市公共数据开发利用管理办法》"


def seed_sandbox(session: Session, settings: Settings) -> list[str]:
    """Declare, grant and ask; returns the declared resources' codes."""
    admin = identity.principal_for(session, "admin")
    by_name = {r.name: r.code for r in catalog.registered_resources(session)}
    codes = []
    for name, declared in DECLARATIONS.items():
        made = sandbox.declare_resource(session, admin, by_name.get(name, name),
                                        DeclarationCreate.model_validate(declared))  # fmt: skip
        sandbox.grant_budget(session, admin, settings.products, GrantCreate(
            resource_code=made.resource_code, unit_code="fz.health", username=ANALYST,
            epsilon=3.0, purpose=PURPOSE, legal_basis=BASIS,
        ))  # fmt: skip
        codes.append(made.resource_code)
    analyst = identity.principal_for(session, ANALYST)
    # the sandbox's own dialect, parsed and checked against the declaration: not run as SQL
    sql = f'SELECT 险种, COUNT(*), AVG(缴费基数) FROM "{codes[0]}" GROUP BY 险种'  # noqa: S608
    _, refused = sandbox.ask_query(session, analyst, QueryCreate(sql=sql, epsilon=0.5),
                                   ops.keys_for(settings.masking_key))  # fmt: skip
    if refused is not None:
        raise RuntimeError(f"the demo's sandbox query is refused: {refused.message}")
    return codes
