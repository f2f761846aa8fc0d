"""Generalisation and suppression to a declared k-anonymity and l-diversity (泛化与抑制,
GB/T 37964): the hierarchies of the quasi-identifiers, the search over their lattice, and the
measures of what came out.

Full-domain generalisation: every value of a quasi-identifier is lifted to the same level of
its hierarchy. Every combination of levels (a node of the lattice) is tried; at each, the
equivalence classes smaller than k or with fewer than l distinct sensitive values are
suppressed, and the node qualifies when no more than the allowed share of rows went. Of the
qualifying nodes the one that loses least is kept: the lowest generalisation height, then the
smallest discernibility. Group sizes are counted by Polars; k and l of the file that comes out
are counted again on its rows, apart from the search.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise, product
from typing import Any

import polars as pl

from citybase.core.errors import InvalidInput
from citybase.data.masking import service as masking
from citybase.data.sandbox.release_schemas import Hierarchy, HierarchyKind

STAR = "*"
MAX_NODES = 4096  # combinations of levels tried at most
_DATE_LEVELS = ["month", "year"]
_REGION_LEVELS = ["street", "district", "city"]
_DATE = re.compile(r"^\s*(\d{4})(?:[-/.年](\d{1,2})(?:[-/.月](\d{1,2})日?)?月?)?\s*$")
_BAND = re.compile(r"^\s*(\d{1,3})\s*-\s*(\d{1,3})\s*$")


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str  # city, district, street, community, grid
    parent_code: str


@dataclass
class Regions:
    """The orgs' region tree, to lift a region code, name or address to its street, district
    or city."""

    by_code: dict[str, Region] = field(default_factory=dict)

    @classmethod
    def of(cls, regions: Iterable[Region]) -> Regions:
        return cls({r.code: r for r in regions})

    def _depth(self, region: Region) -> int:
        order = ["city", "district", "street", "community", "grid"]
        return order.index(region.level) if region.level in order else len(order)

    def resolve(self, value: str) -> Region | None:
        """The region a value names: by its code, else the deepest region whose name (and,
        among namesakes, whose parent's name) the text holds."""
        text = value.strip()
        if text in self.by_code:
            return self.by_code[text]
        found = [r for r in self.by_code.values() if r.name and r.name in text]
        if not found:
            return None

        def score(r: Region) -> tuple[int, int]:
            parent = self.by_code.get(r.parent_code)
            return self._depth(r), int(bool(parent and parent.name in text))

        return max(found, key=score)

    def lift(self, region: Region, level: str) -> str | None:
        """The region's ancestor at ``level`` (its path of names from the city), or None when
        the region is coarser than that."""
        path: list[Region] = []
        current: Region | None = region
        while current is not None and len(path) < 10:
            path.append(current)
            current = self.by_code.get(current.parent_code)
        path.reverse()
        for i, r in enumerate(path):
            if r.level == level:
                return "".join(p.name for p in path[: i + 1])
        return None


# --- hierarchies -----------------------------------------------------------------------------


def check_hierarchy(column: str, h: Hierarchy) -> list[str]:
    """The ladder of a hierarchy (its levels' names, from the value up to ``*``), or
    ``InvalidInput`` naming the column when the levels make no hierarchy."""
    where = f"quasi_identifiers.{column}.levels"
    levels = list(h.levels)

    def fail(why: str) -> InvalidInput:
        return InvalidInput(f"{column}: {why}", field=where, rule="release.hierarchy")

    if h.kind in (HierarchyKind.date, HierarchyKind.region):
        allowed = _DATE_LEVELS if h.kind is HierarchyKind.date else _REGION_LEVELS
        names = [str(x) for x in levels]
        if bad := [x for x in names if x not in allowed]:
            raise fail(f"{bad[0]} is no level of a {h.kind.value} hierarchy "
                       f"({', '.join(allowed)})")  # fmt: skip
        if len(set(names)) != len(names) or names != sorted(names, key=allowed.index):
            raise fail(f"the levels go from fine to coarse, each once: {', '.join(allowed)}")
        return ["value", *names, STAR]
    if h.kind is HierarchyKind.value:
        if levels:
            raise fail("a value hierarchy has no level but the value and *")
        return ["value", STAR]
    numbers: list[int] = []
    for x in levels:
        if isinstance(x, bool) or (not isinstance(x, int) and not str(x).isdigit()):
            raise fail(f"{x!r} is not a whole number")
        numbers.append(int(x))
    if h.kind is HierarchyKind.age:
        if not numbers or any(n < 1 or n > 120 for n in numbers):
            raise fail("age bands are 1 to 120 years wide, at least one")
        for a, b in pairwise(numbers):
            if b <= a or b % a:
                raise fail(f"each band holds whole bands of the level below ({b} after {a})")
        return ["value", *(f"{n}y" for n in numbers), STAR]
    if not numbers or any(n < 0 or n > 50 for n in numbers):
        raise fail("a prefix keeps 0 to 50 characters, at least one level")
    if any(b >= a for a, b in pairwise(numbers)):
        raise fail("each level keeps fewer characters than the one below")
    return ["value", *(f"{n}c" for n in numbers), STAR]


def _date_parts(value: Any) -> tuple[str, str | None, str | None] | None:
    if isinstance(value, datetime | date):
        return f"{value.year:04d}", f"{value.month:02d}", f"{value.day:02d}"
    match = _DATE.match(str(value))
    if not match:
        return None
    year, month, day = match.groups()
    return year, f"{int(month):02d}" if month else None, f"{int(day):02d}" if day else None


def lift(kind: HierarchyKind, ladder: list[str], level: int, value: Any,
              regions: Regions) -> str | None:  # fmt: skip
    """``value`` at ``level`` of the ladder; None when the value cannot be put there (it is
    coarser already, or not of the hierarchy's kind); ``""`` stays ``""``."""
    if value is None or str(value).strip() == "":
        return ""
    name = ladder[level]
    if name == STAR:
        return STAR
    text = str(value).strip()
    if kind is HierarchyKind.value:
        return text
    if kind is HierarchyKind.date:
        parts = _date_parts(value)
        if parts is None:
            return None
        year, month, day = parts
        if name == "value":
            return "-".join(p for p in (year, month, day) if p) if day else None
        if name == "month":
            return f"{year}-{month}" if month else None
        return year
    if kind is HierarchyKind.region:
        region = regions.resolve(text)
        if region is None:
            return None
        return text if name == "value" else regions.lift(region, name)
    if kind is HierarchyKind.age:
        band = _BAND.match(text)
        low, width = (int(band.group(1)), int(band.group(2)) - int(band.group(1)) + 1) if band \
            else (None, 1)  # fmt: skip
        if low is None:
            try:
                low = int(float(text))
            except ValueError:
                return None
            if low < 0 or low > 150:
                return None
        if name == "value":
            return text if width == 1 else None
        wanted = int(name[:-1])
        if wanted % width or low % width:
            return None
        start = low // wanted * wanted
        return f"{start}-{start + wanted - 1}"
    # prefix: keep so many characters, one * for the rest (the length is not told)
    keep = int(name[:-1]) if name != "value" else len(text)
    masked_at = text.find("*")
    if masked_at != -1 and keep > masked_at:
        return None
    return text if name == "value" else text[:keep] + (STAR if keep < len(text) else "")


_KIND_WORD = {HierarchyKind.date: "dates", HierarchyKind.age: "ages",
              HierarchyKind.region: "regions of the region tree",
              HierarchyKind.prefix: "texts", HierarchyKind.value: "values"}  # fmt: skip


@dataclass
class Ladder:
    """One quasi-identifier: its ladder and its values lifted to every level, from the
    lowest level every value can reach (``floor``: a value the grade already cut to its year
    cannot be a month)."""

    column: str
    names: list[str]
    floor: int
    lifted: list[list[str]]  # per level of the ladder (below the floor: empty)


def ladder_of(column: str, h: Hierarchy, values: Sequence[Any], regions: Regions) -> Ladder:
    names = check_hierarchy(column, h)
    lifted: list[list[str]] = []
    floor = 0
    distinct = list(dict.fromkeys(values))  # values repeat: each distinct one is lifted once
    for level in range(len(names)):
        lifted_of = {v: lift(h.kind, names, level, v, regions) for v in distinct}
        if any(v is None for v in lifted_of.values()):
            floor = level + 1
            lifted.append([])
            continue
        lifted.append([lifted_of[v] or "" for v in values])
    if floor >= len(names) - 1:  # only * is left: the values are not of this hierarchy
        bad = next((v for v in values if lift(h.kind, names, len(names) - 2, v, regions)
                    is None), None)  # fmt: skip
        raise InvalidInput(
            f"{column}: {bad!r} and its like are not {_KIND_WORD[h.kind]} this hierarchy "
            f"can generalise ({', '.join(names)})",
            field=f"quasi_identifiers.{column}", rule="release.hierarchy",
        )  # fmt: skip
    return Ladder(column, names, floor, lifted)


# --- the search ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """The node kept (or, when none qualifies, the least generalised node without suppression)
    and what it leaves."""

    qualified: bool
    levels: dict[str, int]
    kept: list[int]  # indexes of the rows released
    suppressed: int
    classes: int
    smallest: int  # the smallest class released
    discernibility: int
    tried: int


def _node_key(levels: tuple[int, ...], ladders: list[Ladder]) -> tuple[int, int]:
    return sum(levels), sum(lv * 1000 // (len(ld.names) - 1) for lv, ld in zip(levels, ladders,
                                                                             strict=True))  # fmt: skip


def search(
    ladders: list[Ladder], sensitive: Sequence[Any] | None, k: int, l: int,  # noqa: E741
    max_suppression: float, on_node: Callable[[], None] | None = None,
) -> Outcome:  # fmt: skip
    n = len(ladders[0].lifted[-1]) if ladders else 0
    frame = pl.DataFrame(
        {f"{i}:{lv}": pl.Series(col, dtype=pl.String)
         for i, ld in enumerate(ladders) for lv, col in enumerate(ld.lifted) if col}
        | {"__row": pl.Series(range(n), dtype=pl.Int64)}
        | {"__s": pl.Series([str(s) if s is not None else "" for s in sensitive or [""] * n],
                            dtype=pl.String)}
    )  # fmt: skip
    spaces = [range(ld.floor, len(ld.names)) for ld in ladders]
    nodes = sorted(product(*spaces), key=lambda lv: _node_key(lv, ladders))
    if len(nodes) > MAX_NODES:
        raise InvalidInput(f"{len(nodes)} combinations of levels: at most {MAX_NODES}; declare "
                           "fewer quasi-identifiers or fewer levels",
                           field="quasi_identifiers", rule="release.lattice")  # fmt: skip
    allowed = int(max_suppression * n)
    best: tuple[tuple[int, int, int], tuple[int, ...], pl.DataFrame] | None = None
    tried = 0
    for node in nodes:
        if best is not None and sum(node) > best[0][0]:
            break  # every node left is higher than the one found
        tried += 1
        if on_node is not None:
            on_node()
        keys = [f"{i}:{lv}" for i, lv in enumerate(node)]
        groups = frame.group_by(keys).agg(pl.len().alias("size"),
                                          pl.col("__s").n_unique().alias("distinct"))  # fmt: skip
        small = groups.filter((pl.col("size") < k) | (pl.col("distinct") < l))
        suppressed = int(small["size"].sum()) if small.height else 0
        if suppressed > allowed or suppressed == n:
            continue
        kept = groups.filter((pl.col("size") >= k) & (pl.col("distinct") >= l))
        dm = int((kept["size"] ** 2).sum()) + suppressed * n
        score = (sum(node), _node_key(node, ladders)[1], dm)
        if best is None or score < best[0]:
            best = (score, node, kept)
    if best is None:  # nothing qualifies: say what the plainest node gives
        node = tuple(ld.floor for ld in ladders)
        keys = [f"{i}:{lv}" for i, lv in enumerate(node)]
        groups = frame.group_by(keys).agg(pl.len().alias("size"))
        return Outcome(False, {ld.column: lv for ld, lv in zip(ladders, node, strict=True)},
                       [], n, groups.height, min(groups["size"].to_list(), default=0),
                       int((groups["size"] ** 2).sum()) if n else 0, tried)  # fmt: skip
    score, node, kept = best
    keys = [f"{i}:{lv}" for i, lv in enumerate(node)]
    rows = frame.join(kept.select(keys), on=keys, how="semi")["__row"].sort().to_list()
    return Outcome(True, {ld.column: lv for ld, lv in zip(ladders, node, strict=True)}, rows,
                   n - len(rows), kept.height, min(kept["size"].to_list()), score[2], tried)  # fmt: skip


def precision(ladders: list[Ladder], levels: dict[str, int], released: int, total: int) -> float:
    """Sweeney's precision: 1 − the mean, over every cell of the quasi-identifiers, of the
    share of its hierarchy climbed; a suppressed row counts as climbed to the top."""
    if not total or not ladders:
        return 1.0
    climbed = sum(levels[ld.column] / (len(ld.names) - 1) for ld in ladders)
    lost = released * climbed + (total - released) * len(ladders)
    return round(1 - lost / (total * len(ladders)), 4)


def measure(rows: list[dict[str, Any]], quasi: list[str], sensitive: str | None
            ) -> tuple[int, int | None]:  # fmt: skip
    """k and (distinct) l of released rows, counted on the rows themselves, apart from the
    search: k by the masking domain's measure (the one every traced read reports), l as the
    fewest distinct sensitive values in a class. None for l: no sensitive column, or no row."""
    if not rows:
        return 0, None
    k = masking.k_anonymity(rows, quasi, threshold=1).k
    if sensitive is None:
        return k, None
    values: dict[tuple[Any, ...], set[Any]] = defaultdict(set)
    for row in rows:
        values[tuple(row[q] for q in quasi)].add(row[sensitive])
    return k, min(len(v) for v in values.values())
