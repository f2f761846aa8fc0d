"""Reading a console map's data out of a page (the JSON block ``_map.html`` writes)."""

from __future__ import annotations

import html
import json
import re
from typing import Any


def map_config(page: str, map_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="{map_id}-config">(.*?)</script>', page, re.S
    )
    assert found, f"no map {map_id} on the page"
    return json.loads(html.unescape(found.group(1)))
