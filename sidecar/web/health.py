from flask import Blueprint

from ..db import get_engine, ping

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    if ping(get_engine()):
        return {"status": "ok", "database": "ok"}
    return {"status": "unavailable", "database": "unavailable"}, 503
