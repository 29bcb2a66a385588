"""The holdout's reads (sidecar.domain.holdout): the cancellations that have a group, with whether
they were won back, and when their addresses were suppressed.

Each read is bounded by the grouped cancellations, never by the site's whole history: a site
with a million older cancellations (before the holdout, imported, by an admin) reads the
figures as fast as a new one (bench/holdout.py). The index (site_id, followup_group,
cancelled_at) finds the grouped rows without reading the others, and suppressions are looked
up by key for the members compared, not read whole."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import and_, func, or_, select, tuple_, union, update
from sqlalchemy.engine import Connection

from ..db import in_transaction
from ._upsert import insert_if_absent
from .tables import (cancellations, events, holdout_tallies, members, subscriptions, suppressions, survey_answers,
                     winbacks)

_c, _m, _w, _s, _a = cancellations, members, winbacks, subscriptions, survey_answers
T = TypeVar("T")


# What the figures read of a grouped cancellation.
_COLUMNS = (_c.c.id, _c.c.followup_group, _c.c.cancelled_at, _m.c.email, _a.c.reason, _a.c.answered_at,
            _w.c.id.isnot(None).label("won_back"), _w.c.amount, _w.c.currency, _s.c.interval)


def grouped_cancellations(conn: Connection, site_id: str, until: datetime, groups,
                          after: datetime | None = None) -> list[dict]:
    """The site's cancellations in one of ``groups``, opened at or before ``until`` (and after
    ``after``, when given), oldest first:
    group, when, the member's address, the survey's reason and when it was given, and the win-back
    if any (with the amount, currency and interval of the subscription the member came back on)."""
    query = (
        select(*_COLUMNS)
        .join(_m, _m.c.id == _c.c.member_id)
        .outerjoin(_a, _a.c.cancellation_id == _c.c.id)
        .outerjoin(_w, _w.c.cancellation_id == _c.c.id)
        .outerjoin(_s, _s.c.id == _w.c.subscription_id)
        # The groups by name, not "IS NOT NULL", and no ORDER BY: SQLite (no statistics) would
        # otherwise walk (site_id, cancelled_at), in order, through every ungrouped row too.
        .where(_c.c.site_id == site_id, _c.c.followup_group.in_(list(groups)), _c.c.cancelled_at <= until)
    )
    if after is not None:
        query = query.where(_c.c.cancelled_at > after)
    rows = [{**row, "won_back": bool(row["won_back"])} for row in conn.execute(query).mappings()]
    return sorted(rows, key=lambda row: (row["cancelled_at"], row["id"]))


def grouped_count_since(conn: Connection, site_id: str, since: datetime, groups) -> int:
    """How many cancellations in one of ``groups`` opened after ``since``: not judged yet."""
    query = select(func.count()).where(_c.c.site_id == site_id, _c.c.followup_group.in_(list(groups)),
                                       _c.c.cancelled_at > since)
    return conn.execute(query).scalar_one()


# Keys per lookup: a bounded IN list (and statement size) whatever the number compared.
SUPPRESSION_CHUNK = 500


def suppressed_since(conn: Connection, site_id: str, keys) -> dict[str, datetime]:
    """Those of ``keys`` (address keys, sidecar.domain.unsubscribe.email_hash) the site has
    suppressed, each with when it was suppressed."""
    wanted = sorted(set(keys))
    found: dict[str, datetime] = {}
    for start in range(0, len(wanted), SUPPRESSION_CHUNK):
        query = select(suppressions.c.email_hash, suppressions.c.created_at).where(
            suppressions.c.site_id == site_id, suppressions.c.email_hash.in_(wanted[start:start + SUPPRESSION_CHUNK]))
        found.update({key: at for key, at in conn.execute(query)})
    return found


# --- the kept figures (holdout_tallies) -----------------------------------------------------------
#
# The protocol that keeps them from ever being stale (sidecar.domain.holdout says what they are):
# a reader keeps figures only for cancellations opened at or before the site's ``claimed_until``,
# which it moves on (and commits) before it reads; every writer that changes what the figures read
# of a grouped cancellation opened at or before ``claimed_until`` bumps ``generation`` in its own
# transaction, having read ``claimed_until`` with a shared lock held to its commit (so a claim
# waits for the writers that read the old one); figures are kept with the generation read before
# the rows, by an UPDATE conditional on it, and used only while it is current.


def at_once(conn: Connection, work: Callable[[Connection], T]) -> T:
    """``work`` in a transaction of its own, committed at once (the claim, the kept figures), run
    again if the server rolled it back for another's sake (sidecar.db.in_transaction). Except on
    SQLite: there the caller's transaction holds the database's one write lock from its start
    (sidecar.db begins IMMEDIATE), so nothing can be written meanwhile, another connection would
    wait for it, and the caller's commit keeps the work (its rollback drops it, harmlessly)."""
    if conn.dialect.name == "sqlite":
        return work(conn)
    return in_transaction(conn.engine, work)


def open_tally(conn: Connection, site_id: str) -> None:
    """The site's row, empty: made with the site (and for every site by migration 0016)."""
    insert_if_absent(conn, holdout_tallies, {"site_id": site_id, "generation": 0})


def tally(conn: Connection, site_id: str) -> dict | None:
    """The site's row (generation, claim, kept figures), or None for a site without one."""
    row = conn.execute(select(holdout_tallies).where(holdout_tallies.c.site_id == site_id)).mappings().first()
    return dict(row) if row else None


def claim(conn: Connection, site_id: str, until: datetime) -> None:
    """Let readers keep figures up to ``until`` (never moved back). Waits for the writers that
    read the former claim (they hold the row shared until they commit)."""
    t = holdout_tallies
    conn.execute(update(t).where(t.c.site_id == site_id, or_(t.c.claimed_until.is_(None), t.c.claimed_until < until))
                 .values(claimed_until=until))


def keep(conn: Connection, site_id: str, generation: int, bound: datetime, reason_cutoff_seconds: int,
         key_probe: str, figures: str) -> bool:
    """Keep figures counted at ``generation`` for the cancellations opened at or before ``bound``;
    refused (False) when a writer bumped the generation since, or the claim does not cover them."""
    t = holdout_tallies
    kept = conn.execute(update(t).where(t.c.site_id == site_id, t.c.generation == generation,
                                        t.c.claimed_until >= bound)
                        .values(bound=bound, tally_generation=generation, reason_cutoff_seconds=reason_cutoff_seconds,
                                key_probe=key_probe, figures=figures))
    return kept.rowcount == 1


def _claims(conn: Connection, site_ids) -> dict[str, datetime]:
    # Shared: a reader's claim (an UPDATE) waits until this writer commits, and then reads what
    # it wrote; a writer that reads after the claim sees it. (SQLite has one writer at a time.)
    # The rows without a claim are locked too: a reader may be about to make the first one.
    t = holdout_tallies
    query = select(t.c.site_id, t.c.claimed_until).where(t.c.site_id.in_(site_ids)).with_for_update(read=True)
    return {site: until for site, until in conn.execute(query) if until is not None}


def _bump(conn: Connection, site_ids) -> None:
    if site_ids:
        t = holdout_tallies
        conn.execute(update(t).where(t.c.site_id.in_(sorted(site_ids))).values(generation=t.c.generation + 1))


def _within_claims(member_ids, claims: dict[str, datetime], groups):
    """The sites (of ``claims``) where one of these members has a grouped cancellation within the claim."""
    return (select(_c.c.site_id).distinct()
            .where(_c.c.member_id.in_(member_ids), _c.c.followup_group.in_(list(groups)),
                   or_(*(and_(_c.c.site_id == site, _c.c.cancelled_at <= until) for site, until in claims.items()))))


def _inputs(conn: Connection, claims: dict[str, datetime], member_ids, groups) -> dict[str, dict[int, tuple]]:
    """What the figures read of these members' grouped cancellations within the claims, by site."""
    query = (select(_c.c.site_id, *_COLUMNS)
             .join(_m, _m.c.id == _c.c.member_id)
             .outerjoin(_a, _a.c.cancellation_id == _c.c.id)
             .outerjoin(_w, _w.c.cancellation_id == _c.c.id)
             .outerjoin(_s, _s.c.id == _w.c.subscription_id)
             .where(_c.c.member_id.in_(member_ids), _c.c.followup_group.in_(list(groups)),
                    or_(*(and_(_c.c.site_id == site, _c.c.cancelled_at <= until) for site, until in claims.items()))))
    found: dict[str, dict[int, tuple]] = {}
    for row in conn.execute(query):
        found.setdefault(row[0], {})[row[1]] = tuple(row[1:])
    return found


def before_events(conn: Connection, members_of_events, groups) -> dict:
    """Before a batch of events is applied: the claims of their sites, held shared until the batch
    commits, and what the figures read of their members' kept cancellations. ``members_of_events``:
    (site id, the member's id at the source) of each event."""
    keys = sorted({key for key in members_of_events if key[1] is not None})
    claims = _claims(conn, sorted({site for site, _ in keys}))
    if not claims:
        return {"claims": {}, "inputs": {}}
    member_ids = select(_m.c.id).where(tuple_(_m.c.site_id, _m.c.external_id).in_(keys))
    return {"claims": claims, "keys": keys, "inputs": _inputs(conn, claims, member_ids, groups)}


def touched_by_events(conn: Connection, event_ids, groups, before: dict | None = None) -> None:
    """After a batch of events was applied: forget the kept figures of the sites where what the
    figures read of one of the events' members' kept cancellations (those within the claim) changed.
    An event changes only its member's rows (the member, their subscriptions, cancellations,
    answers, win-backs), so this finds every kept cancellation the batch changed: a late cancel or
    comeback, an answer replaced, a new address, another interval. With ``before`` (before_events,
    the applier's batches) a member's renewal that changed none of it forgets nothing; without it,
    any event of a member with a kept cancellation forgets them."""
    if not event_ids:
        return
    e, ids = events, list(event_ids)
    linked = select(e.c.member_id).where(e.c.id.in_(ids), e.c.member_id.isnot(None))
    if before is None:
        claims = _claims(conn, select(e.c.site_id).where(e.c.id.in_(ids)).distinct())
        if claims:
            _bump(conn, set(conn.execute(_within_claims(linked, claims, groups)).scalars()))
        return
    claims = before["claims"]  # still held: this transaction locked them
    if not claims:
        return
    by_key = select(_m.c.id).where(tuple_(_m.c.site_id, _m.c.external_id).in_(before["keys"]))
    after = _inputs(conn, claims, union(linked, by_key), groups)
    _bump(conn, {site for site in claims if after.get(site, {}) != before["inputs"].get(site, {})})


def touched_members(conn: Connection, site_id: str, member_ids, groups) -> None:
    """The same for members changed outside the applier (a privacy erasure: a new address)."""
    claims = _claims(conn, [site_id])
    if claims and member_ids:
        _bump(conn, set(conn.execute(_within_claims(list(member_ids), claims, groups)).scalars()))


def touched_by_suppression(conn: Connection, site_id: str, since: datetime) -> None:
    """A suppression dated ``since`` leaves out the cancellations opened at or after it: kept
    ones only if it is dated within the claim (never, for one recorded as it happens)."""
    claims = _claims(conn, [site_id])
    if site_id in claims and since <= claims[site_id]:
        _bump(conn, {site_id})
