"""Reads kept for the length of one transaction: the applier applies a batch of events of (mostly)
the same site, and each cancellation read the site, its settings and its steps again (three of
about twelve statements per event), rows no apply ever writes.

Only inside ``kept_for_transaction`` (the applier's batch, and the dispatcher's read of the batch
it claimed); everywhere else each read goes to the database as before. The values are those at the
first read of the batch: a setting saved by the owner while a batch is being applied (under a
second) applies from the next batch on, as if it had been saved a moment later.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from sqlalchemy.engine import Connection

_KEY = "farewell.reads_kept"  # in conn.info, which outlives the transaction: removed at its end

T = TypeVar("T")


@contextmanager
def kept_for_transaction(conn: Connection) -> Iterator[None]:
    conn.info[_KEY] = {}
    try:
        yield
    finally:
        conn.info.pop(_KEY, None)


def read(conn: Connection, key: tuple, read_it: Callable[[], T]) -> T:
    """``read_it()``, or the value it gave earlier in this transaction (a copy: callers may change it)."""
    kept = conn.info.get(_KEY)
    if kept is None:
        return read_it()
    if key not in kept:
        kept[key] = read_it()
    return _copied(kept[key])


def keeping(conn: Connection) -> bool:
    """Whether this transaction keeps its reads (the applier's batch, the dispatcher's batch read)."""
    return _KEY in conn.info


def keep(conn: Connection, key: tuple, value) -> None:
    """Keep ``value`` as what ``read`` gives for ``key`` in this transaction, read by a query that
    read it beside another (the site's row with its settings and steps), unless kept already."""
    kept = conn.info.get(_KEY)
    if kept is not None:
        kept.setdefault(key, value)


def _copied(value):
    """A copy of the dicts and lists in ``value``, sharing the values in them. The rows kept here hold
    only immutable values (strings, numbers, datetimes, None), and copy.deepcopy rebuilt each
    datetime through __reduce_ex__: about a tenth of the applier's CPU per event (five reads each).
    Only the containers are visited: a call per value (eleven per read of a site) was still an
    eighth of the applier's profiled CPU."""
    if isinstance(value, dict):
        return {key: _copied(item) if isinstance(item, _CONTAINERS) else item for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) if isinstance(item, _CONTAINERS) else item for item in value]
    return value


_CONTAINERS = (dict, list)
