"""Insert-if-absent and upsert that are race-free on both backends.

Each statement is built once per shape (table, columns given, columns updated) and then only
executed with new values: building a statement and its cache key costs more CPU than the server
takes to run it, and ingest runs these on every event.

On MySQL, the applier's multi-row INSERTs (``insert_rows``) have their values rendered by the
driver's C converter, one call per row: mysql-connector's own executemany formats each parameter
with a Python call and a regular expression (about 30 % of the applier's CPU, issue 15).
"""

from __future__ import annotations

from datetime import timezone
from functools import lru_cache

from sqlalchemy import Column, Table, and_, bindparam, case, exc, func, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.sql.dml import Insert

from .types import UTCDateTime


def insert_if_absent(conn: Connection, table: Table, values: dict) -> None:
    """Insert ``values`` unless a row with the same unique key exists; never raises on that.

    MySQL's INSERT IGNORE would also silence truncation and other errors, so a no-op
    ON DUPLICATE KEY UPDATE is used instead.
    """
    conn.execute(_insert_if_absent(conn.dialect.name, table, tuple(values)), values)


def insert_all_if_absent(conn: Connection, table: Table, rows: list[dict]) -> None:
    """``insert_if_absent`` for each of ``rows`` (all with the same keys), in one round trip on
    MySQL: mysql-connector sends an executemany INSERT as one multi-row statement."""
    if rows:
        insert_rows(conn, _insert_if_absent(conn.dialect.name, table, tuple(rows[0])), rows)


def insert_rows(conn: Connection, statement: Insert, rows: list[dict]) -> CursorResult:
    """Run the INSERT ``statement`` (built once and kept: its rendering is cached by identity)
    for ``rows`` (all with the same keys, in its columns' order or not) as one multi-row
    statement on MySQL, as ``conn.execute(statement, rows)`` does, for less CPU: the values are
    converted by the driver's C converter, one call per row, and escaped by it as executemany's
    are (the same function). Elsewhere, and for a statement of another form, that very call.
    Returns its result (the rows of its RETURNING clause, if it has one)."""
    template = None
    driver = c_converter_of(conn)
    if rows and driver is not None:
        template = _multi_row_template(statement, conn.dialect, tuple(rows[0]))
    if template is None:
        return conn.execute(statement, rows)
    head, names, processors, tail, text = template
    values = []
    try:
        for row in rows:
            converted = driver.prepare_for_mysql([row[name] if process is None else process(row[name])
                                                  for name, process in zip(names, processors)])
            values.append(b"(" + b",".join(converted) + b")")
    except Exception as error:  # a value its type refuses (a naive datetime): as conn.execute reports it
        raise exc.StatementError(f"({type(error).__module__}.{type(error).__name__}) {error}", text, None,
                                 error) from error
    return run_rendered(conn, head + b",".join(values) + tail, text)


def c_converter_of(conn: Connection):
    """The connection's mysql-connector C-extension connection, whose converter renders values
    (``prepare_for_mysql``), or None: another database, or the pure-Python driver (a database URL
    with ``use_pure=True``, or a platform without the extension), which keeps its own formatting."""
    if conn.dialect.name != "mysql":
        return None
    driver = conn.connection.driver_connection
    return driver if hasattr(driver, "prepare_for_mysql") else None


def run_rendered(conn: Connection, sql: bytes, template: str) -> CursorResult:
    """Run ``sql``, a statement whose values the driver's converter rendered into it (MySQL), with
    no parameters. The statement then holds the members' data: an error (and any log of it) shows
    ``template``, the statement with its placeholders, instead, as hide_parameters does."""
    try:
        return conn.exec_driver_sql(sql.decode(conn.connection.driver_connection.python_charset))
    except exc.StatementError as error:
        error.statement, error.params = template, None
        raise


@lru_cache(maxsize=512)
def _multi_row_template(statement: Insert, dialect: Dialect, names: tuple[str, ...]):
    """``(head, names, processors, tail, text)`` for ``insert_rows``: the compiled statement
    split around its one row of placeholders, and each column's bind processor (the column
    types' conversion, e.g. UTCDateTime's to naive UTC); None when the statement renders
    anything else in its row (a SQL expression, a Python-side default), or a literal ``%``."""
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    text = compiled.string
    columns = statement.table.c
    names = tuple(column.key for column in columns if column.key in names)  # as the row renders them
    row = "VALUES (" + ", ".join(f"%({name})s" for name in names) + ")"
    if text.count(row) != 1 or set(compiled.binds) != set(names):
        return None
    head, tail = text.split(row)
    if "%" in head or "%" in tail:
        return None  # pyformat doubled it; the statement is run without parameters
    processors = tuple(_for_driver(columns[name].type, dialect) for name in names)
    # Table and column names only (the values are encoded by the driver, in the connection's charset).
    return ((head + "VALUES ").encode("ascii"), names, processors, tail.encode("ascii"), text)


def upsert_as_of(
    conn: Connection, table: Table, key: tuple[Column, ...], values: dict, updates: list[tuple[Column, list[str]]]
) -> int:
    """Insert ``values``; if a row with the same unique ``key`` exists, instead set each of its
    ``(as_of, columns)`` groups to ``values`` where the row's ``as_of`` is not newer than
    ``values[as_of]``. Returns the row's id.

    One statement instead of insert-if-absent, a conditional UPDATE per group and a re-select: the
    same row locks and the same outcome under concurrent inserts, a third of the round trips.
    """
    shape = tuple((as_of.name, tuple(columns)) for as_of, columns in updates)
    statement = _upsert_as_of(conn.dialect.name, table, tuple(c.name for c in key), tuple(values), shape)
    result = conn.execute(statement, values)
    return result.scalar_one() if conn.dialect.name == "sqlite" else result.lastrowid


def upsert_all_as_of(conn: Connection, table: Table, key: tuple[Column, ...],
                     rows: list[tuple[dict, list[tuple[Column, list[str]]]]]) -> None:
    """``upsert_as_of`` of each ``(values, updates)`` of ``rows``, in their order, without the ids
    (read them after with ``ids_by_key``): consecutive rows of one shape are one executemany, a
    single multi-row statement on MySQL, whose rows the server applies one after the other as
    separate statements would be. Rows whose keys are all different (the applier's batch) do not
    depend on each other's order: they are taken shape by shape, one statement per shape."""
    keys = [tuple(values[c.name] for c in key) for values, _ in rows]
    if len(set(keys)) == len(keys):
        shapes: dict = {}
        for values, updates in rows:
            shapes.setdefault((tuple(values), tuple((a.name, tuple(c)) for a, c in updates)), []).append((values, updates))
        rows = [row for same in shapes.values() for row in same]
    run: list[dict] = []
    run_shape = None
    for values, updates in [*rows, (None, None)]:
        shape = None if values is None else (
            tuple(values), tuple((as_of.name, tuple(columns)) for as_of, columns in updates))
        if run and shape != run_shape:
            names, updates_shape = run_shape
            insert_rows(conn, _upsert_as_of(conn.dialect.name, table, tuple(c.name for c in key), names,
                                            updates_shape, returning=False), run)
            run = []
        if values is not None:
            run.append(values)
            run_shape = shape


def ids_by_key(conn: Connection, table: Table, key: tuple[Column, ...], keys: list[tuple],
               value: Column | tuple[Column, ...] | None = None) -> dict[tuple, int | tuple]:
    """The ids (or ``value``, a column or a tuple of them) of the rows whose unique ``key`` is one
    of ``keys``, by key: one query, each key column matched IN its values, the pairs that were not
    asked for left out."""
    if not keys:
        return {}
    wanted = set(keys)
    values = (table.c.id,) if value is None else value if isinstance(value, tuple) else (value,)
    query = select(*values, *key).where(
        *(column.in_(bindparam(f"key_{n}", expanding=True)) for n, column in enumerate(key)))
    params = {f"key_{n}": sorted({k[n] for k in wanted}) for n in range(len(key))}
    n = len(values)
    return {tuple(row[n:]): (tuple(row[:n]) if isinstance(value, tuple) else row[0])
            for row in conn.execute(query, params) if tuple(row[n:]) in wanted}


def _insert(dialect: str, table: Table, names: tuple[str, ...]):
    insert = sqlite.insert if dialect == "sqlite" else mysql.insert
    return insert(table).values({name: bindparam(name, type_=table.c[name].type) for name in names})


@lru_cache(maxsize=512)
def _insert_if_absent(dialect: str, table: Table, names: tuple[str, ...]):
    statement = _insert(dialect, table, names)
    if dialect == "sqlite":
        return statement.on_conflict_do_nothing()
    pk = next(iter(table.primary_key.columns))
    return statement.on_duplicate_key_update({pk.name: pk})


@lru_cache(maxsize=512)
def _upsert_as_of(dialect: str, table: Table, key: tuple[str, ...], names: tuple[str, ...],
                  updates: tuple[tuple[str, tuple[str, ...]], ...], returning: bool = True):
    statement = _insert(dialect, table, names)
    new = statement.excluded if dialect == "sqlite" else statement.inserted
    assignments: list[tuple[str, object]] = []
    for as_of, columns in updates:
        newer = table.c[as_of] <= new[as_of]
        held_by = table.info.get("held_while_set", {}).get(as_of)
        if held_by is not None:
            # The table holds this group while that column is set (subscriptions: a replaced one).
            newer = and_(newer, table.c[held_by].is_(None))
        # MySQL evaluates the assignments left to right, each seeing the ones before it: the
        # group's as_of column is set last, so the columns before it compare with its old value.
        for name in [*columns, as_of]:
            assignments.append((name, case((newer, new[name]), else_=table.c[name])))
    if dialect == "sqlite":
        # Nothing to update still has to be an update, so that RETURNING gives the existing row.
        statement = statement.on_conflict_do_update(
            index_elements=list(key), set_=dict(assignments or [(key[0], table.c[key[0]])]))
        return statement.returning(table.c.id) if returning else statement
    # LAST_INSERT_ID(id) makes the server report the existing row's id as the "inserted" one.
    assignments.append(("id", func.last_insert_id(table.c.id)))
    return statement.on_duplicate_key_update(assignments)


def _for_driver(column_type, dialect: Dialect):
    """The column type's bind processor, or for a UTCDateTime a cheaper one with the same result:
    the driver's converter writes a datetime's fields and ignores its tzinfo, so a value already in
    UTC (most are: the applier's clocks, parsed "Z" timestamps) needs no conversion; any other, a
    naive one included, goes through the type's own (which converts or refuses it). About a tenth
    of the applier's instructions (callgrind, batches of 40)."""
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if not isinstance(column_type, UTCDateTime) or process is None:
        return process

    def in_utc(value):
        return value if value is None or value.tzinfo is timezone.utc else process(value)

    return in_utc
