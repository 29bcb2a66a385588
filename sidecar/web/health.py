"""GET /healthz: is this web process able to serve (its database), and are the background jobs ticking.

A load balancer checks the WEB process with it: the HTTP status follows the database only (503
when it cannot be reached), because late jobs are no reason to take a web replica out of
rotation. A monitor that wants the jobs to count asks ``/healthz?jobs=required``: 503 as well
when a job is late (no completed tick for 3 of its intervals) or never ticked.

``events`` says how many accepted events wait for the applier, since when, and how many are parked
(their apply failed every attempt): informative, never a reason for a 503.
"""

from datetime import datetime, timezone

from flask import Blueprint, request

from ..db import UNAVAILABLE_ERRORS, get_engine, ping
from ..metrics import age_seconds
from ..storage.events import unapplied_figures
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
            unapplied = unapplied_figures(conn)
    except UNAVAILABLE_ERRORS:  # the database went away between the two queries
        return {"status": "unavailable", "database": "unavailable"}, 503
    jobs = {state.job: {"status": state.status, "last_tick_at": _iso(state.last_tick_at),
                        "age_seconds": state.age_seconds, "workers": state.workers,
                        "interval_seconds": state.interval_seconds} for state in states}
    events = {"unapplied": unapplied["pending"], "parked": unapplied["parked"],
              "oldest_unapplied_age_seconds": age_seconds(unapplied["oldest_received_at"], now)}
    if request.args.get("jobs") == "required" and any(state.status != "ok" for state in states):
        return {"status": "jobs_late", "database": "ok", "jobs": jobs, "events": events}, 503
    return {"status": "ok", "database": "ok", "jobs": jobs, "events": events}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z") if at else None
