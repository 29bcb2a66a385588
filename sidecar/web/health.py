"""GET /healthz: is this web process able to serve (its database), and are the background jobs ticking.

A load balancer checks the WEB process with it: the HTTP status follows the database only (503
when it cannot be reached), because late jobs are no reason to take a web replica out of
rotation. A monitor that wants the jobs to count asks ``/healthz?jobs=required``: 503 as well
when a job is late (no completed tick for 3 of its intervals) or never ticked.
"""

from datetime import datetime, timezone

from flask import Blueprint, request

from ..db import UNAVAILABLE_ERRORS, get_engine, ping
from ..storage.operations import job_states

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    engine = get_engine()
    if not ping(engine):
        return {"status": "unavailable", "database": "unavailable"}, 503
    now = datetime.now(timezone.utc)
    try:
        with engine.connect() as conn:
            states = job_states(conn, now)
    except UNAVAILABLE_ERRORS:  # the database went away between the two queries
        return {"status": "unavailable", "database": "unavailable"}, 503
    jobs = {state.job: {"status": state.status, "last_tick_at": _iso(state.last_tick_at),
                        "age_seconds": state.age_seconds, "workers": state.workers,
                        "interval_seconds": state.interval_seconds} for state in states}
    if request.args.get("jobs") == "required" and any(state.status != "ok" for state in states):
        return {"status": "jobs_late", "database": "ok", "jobs": jobs}, 503
    return {"status": "ok", "database": "ok", "jobs": jobs}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z") if at else None
