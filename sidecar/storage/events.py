from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from sqlalchemy import and_, bindparam, func, insert, literal_column, select, update
from sqlalchemy.engine import Connection

from ._upsert import c_converter_of, insert_all_if_absent, run_rendered
from .sites import SITE_SECRET_COLUMNS
from .tables import events, sites


def insert_event(conn: Connection, **values) -> int:
    """Raises IntegrityError when (site_id, webhook_id) was stored before."""
    # Values passed as parameters, not .values(): the statement (and its cache key) stays the same
    # on every call, which matters on the ingest path (see _upsert).
    return conn.execute(insert(events), values).inserted_primary_key[0]


# The accept path's INSERT leaves out a column whose value is the one the database puts there anyway
# (no value: NULL, or its server default): fewer parameters to convert and send on every 202.
_LEFT_OUT_WHEN = {"applied_at": None, "apply_after": None, "survey_cancellation_id": None, "validated_with": None,
                  "imported": False}


@lru_cache(maxsize=16)
def _insert_if_secrets_are(columns: tuple[str, ...], null_secrets: tuple[str, ...]):
    # INSERT … SELECT the values FROM the site's row WHERE its secrets are those given: one statement
    # shape per set of columns (and of the site's secrets that are NULL: IS NULL, no parameter),
    # built once (see _upsert).
    secrets_are = [sites.c.id == bindparam("site_id_now")] + [
        sites.c[name].is_(None) if name in null_secrets else
        sites.c[name].is_not_distinct_from(bindparam(f"{name}_now", type_=sites.c[name].type))
        for name in SITE_SECRET_COLUMNS]
    values = select(*[bindparam(name, type_=events.c[name].type) for name in columns]).where(*secrets_are)
    return insert(events).from_select(list(columns), values)


def insert_event_if_site_secrets_are(conn: Connection, site: dict, **values) -> int | None:
    """``insert_event``, done only if the site's row still holds the secrets of ``site`` (a row read
    earlier, which a signature was verified against): the id, or None when the site's secrets
    changed or the site is gone since, and nothing was inserted. The check is part of the INSERT,
    not a read before it: a 202 costs the round trips of a plain insert. Raises IntegrityError when
    (site_id, webhook_id) was stored before."""
    stored = {name: value for name, value in values.items()
              if not (name in _LEFT_OUT_WHEN and value is _LEFT_OUT_WHEN[name])}
    null_secrets = tuple(name for name in SITE_SECRET_COLUMNS if site[name] is None)
    checked = {f"{name}_now": site[name] for name in SITE_SECRET_COLUMNS if name not in null_secrets}
    sql, positions, processors, rendered = _driver_form(tuple(stored), null_secrets, conn.dialect)
    params = {**stored, **checked, "site_id_now": site["id"]}
    for name, process in processors:
        params[name] = process(params[name])
    driver = c_converter_of(conn) if rendered is not None else None
    if driver is not None:
        pieces, names = rendered
        # MySQL: the values rendered by the driver's C converter in one call, not formatted one
        # by one by mysql-connector's Python (see _upsert.insert_rows).
        values = driver.prepare_for_mysql([params[name] for name in names])
        statement = [pieces[0]]
        for value, piece in zip(values, pieces[1:]):
            statement += (value, piece)
        result = run_rendered(conn, b"".join(statement), sql)
    else:
        result = conn.exec_driver_sql(sql, tuple(params[name] for name in positions) if positions else params)
    return result.lastrowid if result.rowcount == 1 else None


@lru_cache(maxsize=16)
def _driver_form(columns: tuple[str, ...], null_secrets: tuple[str, ...], dialect):
    """The INSERT of _insert_if_secrets_are compiled once for ``dialect``: its SQL, its parameters'
    order when the driver takes them by position, the columns' conversions (the UTC datetimes'),
    and on MySQL the SQL's pieces around its placeholders with their names, which the driver's
    converter fills in one call (about 4 % of a 202's instructions fewer than its formatting).
    Run with exec_driver_sql, a 202's INSERT skips the compiled cache's key and the per-call
    parameter processing of ``execute`` (a fifth of the web worker's CPU per 202 went to this
    INSERT): the transaction, the driver's errors as SQLAlchemy's and a lost connection's
    invalidation stay the Connection's."""
    compiled = _insert_if_secrets_are(columns, null_secrets).compile(dialect=dialect)
    processors = []
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((name, process))
    rendered = None
    if dialect.name == "mysql" and not compiled.positional:
        # The SQL split around its named placeholders, for the driver's converter to fill in
        # (pyformat: the only "%" are the placeholders', or the statement is left to the driver).
        split = _PLACEHOLDER.split(compiled.string)
        pieces, names = split[0::2], split[1::2]
        if not any("%" in piece for piece in pieces):
            rendered = (tuple(piece.encode("ascii") for piece in pieces), tuple(names))
    return (compiled.string, tuple(compiled.positiontup) if compiled.positional else None, tuple(processors),
            rendered)


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def stored_webhook_ids(conn: Connection, site_id: str, webhook_ids: list[str]) -> set[str]:
    """Which of ``webhook_ids`` the site already has events under."""
    if not webhook_ids:
        return set()
    query = select(events.c.webhook_id).where(events.c.site_id == site_id,
                                              events.c.webhook_id.in_(bindparam("ids", expanding=True)))
    return {row[0] for row in conn.execute(query, {"ids": webhook_ids})}


def insert_events_if_absent(conn: Connection, rows: list[dict]) -> None:
    """Insert the events of a batch in one multi-row statement; a row whose (site_id, webhook_id)
    is already stored is skipped, never an error."""
    insert_all_if_absent(conn, events, rows)


def webhook_ids_received_at(conn: Connection, site_id: str, webhook_ids: list[str], received_at: datetime) -> set[str]:
    """Which of ``webhook_ids`` the site has events under that were received at ``received_at``."""
    if not webhook_ids:
        return set()
    query = select(events.c.webhook_id).where(events.c.site_id == site_id,
                                              events.c.webhook_id.in_(bindparam("ids", expanding=True)),
                                              events.c.received_at == received_at)
    return {row[0] for row in conn.execute(query, {"ids": webhook_ids})}


def event_exists(conn: Connection, site_id: str, webhook_id: str) -> bool:
    query = select(events.c.id).where(events.c.site_id == site_id, events.c.webhook_id == webhook_id)
    return conn.execute(query).first() is not None


# Statements on the ingest path are built once, with named parameters (see _upsert).
_LINK = (
    update(events)
    .where(events.c.id == bindparam("event_id"))
    .values(member_id=bindparam("new_member_id"), subscription_id=bindparam("new_subscription_id"))
)
_FIRST_EVENTS_AFTER = (
    select(events.c.type, func.min(events.c.occurred_at))
    .where(events.c.subscription_id == bindparam("subscription_id"),
           events.c.type.in_(bindparam("types", expanding=True)), events.c.occurred_at > bindparam("after"))
    .group_by(events.c.type)
)
_FIRST_EVENTS_BETWEEN = _FIRST_EVENTS_AFTER.where(events.c.occurred_at < bindparam("before"))


def link_event(conn: Connection, event_id: int, member_id: int, subscription_id: int | None) -> None:
    conn.execute(_LINK, {"event_id": event_id, "new_member_id": member_id, "new_subscription_id": subscription_id})


def link_events(conn: Connection, links: list[tuple[int, int, int | None]]) -> None:
    """``link_event`` of each (event_id, member_id, subscription_id), in one statement and one
    round trip (an executemany UPDATE is one round trip per row on MySQL)."""
    if not links:
        return
    conn.execute(update(events).where(events.c.id.in_(bindparam("event_ids", expanding=True)))
                 .values(**_linked(links)), {"event_ids": [event_id for event_id, _, _ in links]},
                 execution_options=_NOT_CACHED)


# Its inlined ids make each batch's statement new: kept out of the compiled statements' cache,
# where it would only push out the statements built once.
_NOT_CACHED = {"compiled_cache": None}


def _linked(links: list[tuple[int, int, int | None]]) -> dict:
    """The events' member_id and subscription_id as a CASE on their id each, an event not in
    ``links`` keeping its own. The ids are inlined as integers (int() of ids this database gave):
    built with a bound parameter per WHEN and THEN, the CASEs of a 400-event batch were 1,600
    parameters to coerce, convert and format: a tenth of the applier's CPU under cProfile."""
    def by_id(column, index: int):
        whens = " ".join(f"WHEN {int(link[0])} THEN {'NULL' if link[index] is None else int(link[index])}"
                         for link in links)
        return literal_column(f"CASE {events.c.id.name} {whens} ELSE {column.name} END")
    return {"member_id": by_id(events.c.member_id, 1), "subscription_id": by_id(events.c.subscription_id, 2)}


def first_events_between(
    conn: Connection, subscription_id: int, types: tuple[str, ...], after: datetime, before: datetime | None
) -> dict[str, datetime]:
    """occurred_at of the earliest event of each of ``types`` for the subscription in (after,
    before), by type; a type with no such event is left out."""
    params = {"subscription_id": subscription_id, "types": list(types), "after": after}
    if before is None:
        rows = conn.execute(_FIRST_EVENTS_AFTER, params)
    else:
        rows = conn.execute(_FIRST_EVENTS_BETWEEN, {**params, "before": before})
    return {type_: at for type_, at in rows}


def events_of_subscriptions(conn: Connection, subscription_ids: list[int], types: tuple[str, ...]) -> dict[int, list[dict]]:
    """The type and occurred_at of each event of ``types`` of each subscription, by subscription
    (the applier's batch reads them once, then picks as ``first_events_between``)."""
    found: dict[int, list[dict]] = {subscription_id: [] for subscription_id in subscription_ids}
    if subscription_ids:
        query = select(events.c.subscription_id, events.c.type, events.c.occurred_at).where(
            events.c.subscription_id.in_(bindparam("ids", expanding=True)),
            events.c.type.in_(bindparam("types", expanding=True)))
        for row in conn.execute(query, {"ids": sorted(set(subscription_ids)), "types": list(types)}).mappings():
            found[row["subscription_id"]].append(dict(row))
    return found


def events_of_member(conn: Connection, member_id: int) -> list[dict]:
    query = select(events).where(events.c.member_id == member_id).order_by(events.c.occurred_at, events.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def replace_payloads_of_member(conn: Connection, member_id: int, payload: str) -> int:
    return conn.execute(update(events).where(events.c.member_id == member_id).values(payload=payload)).rowcount


# The applier's side (sidecar.domain.applier): an unapplied event is due when apply_after has come;
# unapplied with no apply_after, it is parked.
_UNAPPLIED = events.c.applied_at.is_(None)
_PARKED = and_(_UNAPPLIED, events.c.apply_after.is_(None))
_CLAIMED_COLUMNS = (events.c.id, events.c.site_id, events.c.payload, events.c.received_at,
                    events.c.apply_attempts, events.c.survey_cancellation_id, events.c.validated_with)


# (applied_at, occurred_at, id), migration 0012: the claim reads the unapplied in the order it
# applies them and stops at its limit.
_CLAIM_INDEX = "ix_events_applied_at_occurred_at_id"


def claim_unapplied(conn: Connection, now: datetime, limit: int) -> list[dict]:
    """Up to ``limit`` events due to be applied, oldest ``occurred_at`` first, locked until the
    transaction ends.

    MariaDB/MySQL: events another applier holds right now are skipped (FOR UPDATE SKIP LOCKED),
    so appliers never wait on each other and never take the same event. SQLite: the engine's
    BEGIN IMMEDIATE already makes the whole batch one writer at a time (as for the emails).

    The index is named, not left to the optimizer: by the other one, (applied_at, apply_after),
    MariaDB reads and sorts every unapplied event and keeps them all locked until the batch ends,
    so that other appliers claim nothing meanwhile (it chose that one on a small table).
    """
    query = (
        select(*_CLAIMED_COLUMNS)
        .with_hint(events, f"FORCE INDEX ({_CLAIM_INDEX})", "mysql")
        .where(_UNAPPLIED, events.c.apply_after <= now)
        .order_by(events.c.occurred_at, events.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


_MARK_APPLIED = (
    update(events)
    .where(events.c.id.in_(bindparam("event_ids", expanding=True)))
    .values(applied_at=bindparam("now"), apply_after=None, apply_error=None)
)


def mark_applied(conn: Connection, event_ids: list[int], now: datetime,
                 links: list[tuple[int, int, int | None]] = ()) -> None:
    """Mark a batch's applied events in one statement (the applier: one UPDATE per batch, not per
    event), linking ``links`` (``link_events``' (event_id, member_id, subscription_id)) in it too:
    each event's row written once by its batch rather than twice, one statement fewer."""
    if event_ids and links:
        conn.execute(_MARK_APPLIED.values(**_linked(links)), {"event_ids": list(event_ids), "now": now},
                     execution_options=_NOT_CACHED)
    elif event_ids:
        conn.execute(_MARK_APPLIED, {"event_ids": list(event_ids), "now": now})


def record_apply_failure(conn: Connection, event_id: int, error: str, retry_at: datetime | None) -> None:
    """Count a failed attempt; ``retry_at`` None parks the event."""
    conn.execute(update(events).where(events.c.id == event_id, _UNAPPLIED)
                 .values(apply_attempts=events.c.apply_attempts + 1, apply_error=error[:1000],
                         apply_after=retry_at))


def unpark(conn: Connection, now: datetime, site_id: str | None = None, since: datetime | None = None) -> int:
    """Make the parked events (of a site, received since a moment) due again, with a fresh count
    of attempts; returns how many."""
    where = [_PARKED]
    if site_id is not None:
        where.append(events.c.site_id == site_id)
    if since is not None:
        where.append(events.c.received_at >= since)
    return conn.execute(update(events).where(*where).values(apply_after=now, apply_attempts=0)).rowcount


def unapplied_figures(conn: Connection, site_id: str | None = None) -> dict:
    """How many events wait to be applied, since when (the oldest ``received_at``), and how many
    are parked."""
    where = [_UNAPPLIED] + ([events.c.site_id == site_id] if site_id is not None else [])
    pending, oldest = conn.execute(
        select(func.count(), func.min(events.c.received_at)).where(*where, events.c.apply_after.is_not(None))).one()
    parked = conn.execute(select(func.count()).where(*where, events.c.apply_after.is_(None))).scalar_one()
    return {"pending": pending, "oldest_received_at": oldest, "parked": parked}


def unapplied_events(conn: Connection, site_id: str, limit: int) -> list[dict]:
    """The site's events not applied yet (pending or parked), oldest first, without payloads."""
    query = (
        select(events.c.id, events.c.webhook_id, events.c.type, events.c.occurred_at, events.c.received_at,
               events.c.apply_after, events.c.apply_attempts, events.c.apply_error)
        .where(_UNAPPLIED, events.c.site_id == site_id)
        .order_by(events.c.received_at, events.c.id)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]
