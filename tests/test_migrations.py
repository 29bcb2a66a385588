"""The migrated schema is exactly the one the code declares, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sidecar import db
from sidecar.storage.tables import metadata


def test_migrations_produce_the_declared_schema(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_migrating_twice_is_harmless(engine):
    db.migrate(engine)
    db.migrate(engine)
    from alembic.script import ScriptDirectory

    assert db.current_revision(engine) == ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()


def test_mariadb_tables_are_utf8mb4(mariadb, _mariadb_migrated):
    result = mariadb.sql(
        "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA='farewell_test'"
        " AND TABLE_NAME <> 'alembic_version'"
    )
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()[1:]]
    assert rows and all(collation == "utf8mb4_bin" for _, collation in rows)
