"""The yardsticks for ingest.

- ``app``: a Flask app that reads the body, verifies nothing, stores nothing.
- ``store_app``: the floor any durable receiver pays: the same, storing each request's body with
  one INSERT (its own transaction) in ``bare_bodies`` on the sidecar's MariaDB
  (FAREWELL_DATABASE_URL), through the same driver and engine settings as the sidecar.
"""

import os

import sqlalchemy as sa
from flask import Flask, request

from sidecar import db
from sidecar.storage.types import LongText

app = Flask(__name__)


@app.post("/v1/sites/<site_id>/events")
def receive(site_id: str):
    request.get_data()
    return {"status": "accepted"}, 202


store_app = Flask("bare_store")
BODIES = sa.Table("bare_bodies", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
                  sa.Column("body", LongText, nullable=False),
                  mysql_engine="InnoDB", mysql_charset="utf8mb4")
_engines: dict[int, sa.engine.Engine] = {}


def _engine() -> sa.engine.Engine:
    # One engine per gunicorn worker, made after the fork.
    pid = os.getpid()
    if pid not in _engines:
        _engines[pid] = db.create_engine(os.environ["FAREWELL_DATABASE_URL"])
    return _engines[pid]


@store_app.post("/v1/sites/<site_id>/events")
def store(site_id: str):
    body = request.get_data(as_text=True)
    with _engine().begin() as conn:
        conn.execute(sa.insert(BODIES), {"body": body})
    return {"status": "accepted"}, 202
