"""A theme library's lineage (血缘) drawn as SVG on the server: its sources on the left, each
with its unit and grade, an arrow from each to the library on the right. No script, no style
attribute (the console's content policy); classes come from the stylesheet."""

from __future__ import annotations

from markupsafe import Markup, escape

from citybase.data.baselib.schemas import LineageNode

BOX_W, BOX_H, GAP, LEFT, RIGHT_X, TOP = 300, 46, 14, 10, 440, 10
MAX_LABEL = 22


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _box(node: LineageNode, x: int, y: int) -> str:
    title = escape(node.label)
    sub = escape(" · ".join(p for p in (node.unit_code, node.level) if p))
    body = (
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" '
        f'class="lineage-{escape(node.kind)}" fill="#f4f7fb" stroke="#4a6fa5"/>'
        f'<text x="{x + 10}" y="{y + 19}" font-size="13">{escape(_short(node.label))}</text>'
        f'<text x="{x + 10}" y="{y + 37}" font-size="11" fill="#555">{sub}</text>'
        f"<title>{title}</title>"
    )
    if node.href:
        return f'<a href="{escape(node.href)}">{body}</a>'
    return body


def svg(nodes: list[LineageNode]) -> Markup:
    """The graph of a theme library's nodes (``ThemeRead.lineage``: sources, then the library)."""
    sources = [n for n in nodes if n.kind != "theme"]
    theme = next((n for n in nodes if n.kind == "theme"), None)
    if theme is None:
        return Markup("")
    rows = max(len(sources), 1)
    height = TOP * 2 + rows * BOX_H + (rows - 1) * GAP
    theme_y = (height - BOX_H) // 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="lineage" '
        f'viewBox="0 0 {RIGHT_X + BOX_W + LEFT} {height}" width="{RIGHT_X + BOX_W + LEFT}" '
        f'height="{height}" aria-label="{escape(theme.label)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#4a6fa5"/></marker></defs>',
    ]
    for n, node in enumerate(sources):
        y = TOP + n * (BOX_H + GAP)
        parts.append(
            f'<line x1="{LEFT + BOX_W}" y1="{y + BOX_H // 2}" x2="{RIGHT_X}" '
            f'y2="{theme_y + BOX_H // 2}" stroke="#4a6fa5" stroke-width="1.5" '
            'marker-end="url(#arrow)"/>'
        )
        parts.append(_box(node, LEFT, y))
    parts.append(_box(theme, RIGHT_X, theme_y))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every text in it is escaped above
