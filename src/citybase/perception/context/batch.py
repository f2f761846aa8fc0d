"""Many entities at once: batch create, upsert, update (ETSI GS CIM 009, 5.6.7 to 5.6.9), and
purge."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError
from citybase.perception.context import attributes, entity_types, jsonld
from citybase.perception.context.errors import AlreadyExists, BadRequestData
from citybase.perception.context.models import (
    ContextEntity,
    EntityState,
    type_list,
)
from citybase.perception.context.service import (
    DEVICE,
    EVERYONE,
    PLATFORM,
    ReadScope,
    Writer,
    _changed,
    _entity_attrs,
    _history_owners,
    _names,
    _rename,
    create,
    delete,
    ownership_refused,
    query,
    restamp,
)
from citybase.perception.context.updates import append_attrs, replace


def upsert(session: Session, body: Any, context: list[Any], *, replace_all: bool = True,
           writer: Writer = PLATFORM, scope: ReadScope = EVERYONE) -> bool:  # fmt: skip
    """Create the entity, or change it (replace it, or update its attributes). True if new."""
    entity_id = body.get("id") if isinstance(body, dict) else None
    if isinstance(entity_id, str) and session.get(ContextEntity, entity_id) is not None:
        if replace_all:
            replace(session, entity_id, body, context, writer=writer, scope=scope)
        else:
            append_attrs(session, entity_id, body, context, writer=writer, scope=scope)
        return False
    create(session, body, context, writer=writer)
    return True


def _prepared(item: Any) -> tuple[str, list[str], dict[str, Any]]:
    """A batch item checked as a whole entity: its id, types and normalized attributes."""
    if not isinstance(item, dict):
        raise BadRequestData("an entity is a JSON object")
    entity_id = attributes.check_id(item.get("id"))
    attrs = _entity_attrs(item, item.get("type"))
    return entity_id, entity_types.given_types(item.get("type")), attrs


def upsert_many(session: Session, items: list[Any], context: list[Any], *, create_only: bool = False,
                replace_all: bool = True, writer: Writer = PLATFORM,
                new_ids: list[str] | None = None,
                ) -> tuple[list[str], list[tuple[Any, CitybaseError]], bool]:  # fmt: skip
    """Batch create or upsert: every entity checked first, the names of all of them expanded at
    once, the existing ones read in one query, then all written with one insert and one update
    (no ORM bookkeeping per entity). Returns the ids done, the items refused with why, and
    whether any entity was new. Entities of registered devices go one by one, each in a
    savepoint of its own, since their readings may be refused. An existing entity of another
    unit is refused unless the writer may change any unit's; a new one is the writer's unit's."""
    ready: list[tuple[str, list[str], dict[str, Any]]] = []
    refused: list[tuple[Any, CitybaseError]] = []
    for item in items:
        try:
            ready.append(_prepared(item))
        except CitybaseError as exc:
            refused.append((item.get("id") if isinstance(item, dict) else None, exc))
    devices_ = [item for item in items if isinstance(item, dict) and
                str(item.get("id", "")).startswith(DEVICE)]  # fmt: skip
    ready = [r for r in ready if not r[0].startswith(DEVICE)]
    names, types = jsonld.expand_names(
        context, set().union(*(_names(a) for _, _, a in ready)) if ready else set(),
        {k for _, kinds, _ in ready for k in kinds},
    )  # fmt: skip
    ids = list({i for i, _, _ in ready})
    from citybase.perception.context import notify, places

    # PostgreSQL merges attributes itself (jsonb ||); unless a subscription needs the whole
    # entity, what each entity holds need not be read and written back
    connection = session.connection()
    merge_in_db = connection.dialect.name == "postgresql" and not notify.listening()
    have: dict[str, tuple[dict[str, Any], datetime, str]] = {}
    had_types: dict[str, list[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ContextEntity.id.in_(ids[start : start + 500])
        if merge_in_db:
            read = session.execute(select(ContextEntity.id, ContextEntity.created_at,
                                          ContextEntity.unit, ContextEntity.type,
                                          ContextEntity.types).where(chunk))  # fmt: skip
            for i, c, u, t, ts in read:
                have[i], had_types[i] = ({}, c, u), list(ts or [t])
        else:
            for stored in session.execute(select(ContextEntity).where(chunk)).scalars():
                have[stored.id] = (stored.attrs, stored.created_at, stored.unit)
                had_types[stored.id] = type_list(stored)
    # a new entity of an id whose history another unit keeps would add to that history
    kept = {} if writer.any_unit else _history_owners(session, [i for i in ids if i not in have])
    done: list[str] = []
    created = False
    now = datetime.now(UTC)
    places.begin_batch(session)  # filed together once the entities are written
    try:
        inserts: dict[str, dict[str, Any]] = {}
        updates: dict[str, dict[str, Any]] = {}
        filed: dict[str, list[str]] = {}
        for entity_id, kinds, attrs in ready:
            expanded = {names[k]: _rename(v, names) for k, v in attrs.items()}
            before = have.get(entity_id)
            if before is not None and create_only:
                refused.append((entity_id, AlreadyExists(f"entity {entity_id} exists", field="id")))
                continue
            if before is not None and not writer.may_change(before[2]):
                refused.append((entity_id, ownership_refused(entity_id, before[2])))
                continue
            if before is None and kept.get(entity_id, writer.unit) != writer.unit:
                refused.append((entity_id, ownership_refused(entity_id, kept[entity_id],
                                                             history=True)))  # fmt: skip
                continue
            new = expanded if before is None or replace_all else {**before[0], **expanded}
            # each attribute's createdAt is kept where the old one was read (not when the
            # database merges the attributes itself: there the written ones start anew)
            new = restamp(None if before is None else before[0], new, attrs=expanded.keys(),
                          now=now)  # fmt: skip
            born = before[1] if before is not None else now
            owner = writer.unit if before is None else before[2]
            state = EntityState(entity_id, "", new, born, now, owner)
            given = list(dict.fromkeys(types[k] for k in kinds))
            if before is None or replace_all:  # an upsert replacing sets the types
                entity_types.set_types(state, given)
            else:  # one updating adds those given to the entity's
                entity_types.set_types(state, had_types[entity_id])
                entity_types.add_types(state, given)
            had_types[entity_id] = filed[entity_id] = type_list(state)
            row = {"id": entity_id, "type": state.type, "types": state.types, "attrs": new,
                   "created_at": born, "modified_at": now, "unit": owner,
                   "merge": before is not None and not replace_all}  # fmt: skip
            (inserts if before is None or entity_id in inserts else updates)[entity_id] = row
            created = created or before is None
            if before is None and new_ids is not None:
                new_ids.append(entity_id)
            have[entity_id] = (new, born, owner)
            _changed(session, state, set(expanded), None if before is None else before[0],
                     removed=() if before is None or not replace_all else
                     before[0].keys() - expanded.keys())  # fmt: skip
            done.append(entity_id)
        table = cast(Table, ContextEntity.__table__)
        if inserts:
            connection.execute(insert(table), [
                {k: v for k, v in r.items() if k != "merge"} for r in inserts.values()])  # fmt: skip
        if updates and connection.dialect.name == "postgresql":  # one statement over arrays
            rows = list(updates.values())
            connection.exec_driver_sql(  # the batch as one JSON document, read by the database
                "UPDATE perception_entities AS e SET type = v.type, types = v.types, attrs = CASE "
                "WHEN v.merge THEN e.attrs || v.attrs ELSE v.attrs END, modified_at = "
                "v.modified_at FROM jsonb_to_recordset(%s::jsonb) AS v(id text, type text, "
                "types jsonb, attrs jsonb, modified_at timestamptz, merge boolean) "
                "WHERE e.id = v.id",
                (orjson.dumps([{"id": r["id"], "type": r["type"], "types": r["types"],
                                "attrs": r["attrs"],
                                "modified_at": r["modified_at"].isoformat(),
                                "merge": r["merge"] and merge_in_db} for r in rows]).decode(),),
            )  # fmt: skip
        elif updates:
            connection.execute(
                update(table).where(table.c.id == bindparam("b_id")).values(
                    type=bindparam("b_type"), types=bindparam("b_types"),
                    attrs=bindparam("b_attrs"), modified_at=bindparam("b_modified")),
                [{"b_id": r["id"], "b_type": r["type"], "b_types": r["types"],
                  "b_attrs": r["attrs"],
                  "b_modified": r["modified_at"]} for r in updates.values()],
            )  # fmt: skip
        entity_types.file(session, {i: filed[i] for i in updates})
        entity_types.file(session, {i: filed[i] for i in inserts}, fresh=True)
    except BaseException:
        places.end_batch(session, write=False)
        raise
    places.end_batch(session)
    for entity_id in list(inserts) + list(updates):  # what the session held of them is stale
        held = session.identity_map.get(session.identity_key(ContextEntity, entity_id))
        if held is not None:
            session.expire(held)
    for item in devices_:
        try:
            with session.begin_nested():
                if create_only:
                    create(session, item, context, writer=writer)
                    created = True
                    if new_ids is not None:
                        new_ids.append(str(item["id"]))
                else:
                    made = upsert(session, item, context, replace_all=replace_all,
                                  writer=writer)  # fmt: skip
                    created = made or created
                    if made and new_ids is not None:
                        new_ids.append(str(item["id"]))
            done.append(str(item["id"]))
        except CitybaseError as exc:
            refused.append((item.get("id"), exc))
    return done, refused, created


def purge(session: Session, context: list[Any], *, types: list[str] | None, q: str | None,
          scope_q: str | None, ids: list[str] | None, id_pattern: str | None,
          drop: list[str] | None, keep: list[str] | None, writer: Writer = PLATFORM,
          scope: ReadScope = EVERYONE, attrs: list[str] | None = None,
          everything: bool = False) -> int:  # fmt: skip
    """``DELETE /entityOperations/purge``: the entities matched by type, ``q`` or ``scopeQ``
    (``id`` and ``idPattern`` narrow them) deleted, or with ``drop`` their attributes named,
    with ``keep`` all but those named. Only entities the writer may change; returns how many."""
    if drop and keep:
        raise BadRequestData("drop and keep do not go together", field="drop")
    if not (types or q or scope_q or attrs or everything):
        raise BadRequestData("purge needs type, attrs, q or scopeQ", field="type")
    done = 0
    offset = 0
    while True:
        if types or q or scope_q or attrs or ids or id_pattern:
            page, _ = query(session, context, types=types, ids=ids, id_pattern=id_pattern, q=q,
                            scope_q=scope_q, attrs=attrs, limit=1000, offset=offset,
                            count=False, scope=scope, form="keyValues")  # fmt: skip
        else:
            page = [{"id": i} for i in session.scalars(
                select(ContextEntity.id).order_by(ContextEntity.id).offset(offset).limit(1000))]  # fmt: skip
        if not page:
            break
        for item in page:
            found = session.get(ContextEntity, item["id"])
            if found is None or not writer.may_change(found.unit):
                offset += 1
                continue
            if drop or keep:
                named = set(jsonld.expand_names(context, set(drop or keep or []), set())[0]
                            .values())  # fmt: skip
                gone = (named if drop else found.attrs.keys() - named) & found.attrs.keys()
                before = found.attrs  # the old dict: a change assigns a new one
                found.attrs = {k: v for k, v in found.attrs.items() if k not in gone}
                found.modified_at = datetime.now(UTC)
                session.flush()
                _changed(session, found, set(), before, removed=gone)
                offset += 1
            else:
                delete(session, found.id, writer=writer, scope=scope)
            done += 1
        if drop or keep:
            if len(page) < 1000:
                break
    return done
