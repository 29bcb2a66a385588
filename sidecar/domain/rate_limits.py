"""Rate limits of the public endpoints, counted in the database so every web process shares them.

A fixed window per limit: simple, one row per client and window, and exact across processes
(see ``storage.rate_limits.count_hit``). A client is never stored as itself: the bucket is the
limit's name and a keyed hash (HMAC with the app's secret key) of the client's address, so the
table holds no IP address and cannot be reversed by hashing the IPv4 space.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine

from ..storage.rate_limits import count_hit, prune_rate_limits


@dataclass(frozen=True)
class Limit:
    name: str
    hits: int  # allowed per window
    seconds: int  # window length


# Unsubscribe links, per client address. Generous: members behind one NAT (an office, a mobile
# carrier) share an address, and a page view plus a button press is two hits per member.
UNSUBSCRIBE = Limit("unsubscribe", 20, 60)
# Dashboard sign-in links, per client address: an owner uses one a minute at most; more is
# someone trying tokens.
LOGIN = Limit("login", 10, 60)
# A sample digest the WordPress bridge asks for, per site (the request is signed, so the site is
# the client): an owner looks at one or two; more would make the sidecar a mail cannon.
DIGEST_SAMPLE = Limit("digest_sample", 5, 600)

LIMITS = {limit.name: limit for limit in (UNSUBSCRIBE, LOGIN, DIGEST_SAMPLE)}
# Windows older than this are pruned (the longest window, with room to spare).
KEEP = timedelta(hours=1)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    hits: int
    retry_after: int  # seconds until the window ends (the Retry-After header)


def client_bucket(secret_key: str, limit: Limit, client: str) -> str:
    digest = hmac.new(secret_key.encode(), f"farewell.rate-limit.{client}".encode(), hashlib.sha256).hexdigest()
    return f"{limit.name}:{digest[:40]}"


def window_of(limit: Limit, now: datetime) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % limit.seconds, timezone.utc)


def hit(engine: Engine, secret_key: str, limit: Limit, client: str, now: datetime) -> Verdict:
    """Count one request of ``client`` against ``limit`` and say whether it may go on."""
    start = window_of(limit, now)
    with engine.begin() as conn:
        hits = count_hit(conn, client_bucket(secret_key, limit, client), start)
    if hits == 1:
        # The first hit of a client's window: a cheap moment to drop old windows (an indexed
        # range delete), so the table stays small even without the jobs process pruning it.
        prune(engine, now)
    retry_after = max(1, int((start + timedelta(seconds=limit.seconds) - now).total_seconds() + 0.999))
    return Verdict(hits <= limit.hits, hits, retry_after)


def prune(engine: Engine, now: datetime) -> int:
    with engine.begin() as conn:
        return prune_rate_limits(conn, now - KEEP)
