"""Sites: one per WordPress site, each with its own signing secret."""

from __future__ import annotations

import base64
import secrets
import string
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import Engine

from .. import safe_http
from ..config import SECRET_ROTATION_GRACE_SECONDS
from ..storage import holdout as holdout_store
from ..storage import site_settings as settings_store
from ..storage import sites as sites_store
from . import dashboard_sessions

SUPPORTED_LOCALES = ("en_US", "fr_FR")
_ID_ALPHABET = string.ascii_lowercase + string.digits


class SiteError(ValueError):
    pass


# Why a site URL is refused (url_problem's codes), as the command line says it.
URL_PROBLEMS = {
    "scheme": "--url must be an http:// or https:// address of at most 500 characters",
    "host": "--url needs a host name (and a port from 1 to 65535, if any)",
    "credentials": "--url must not contain a user name or password",
    "private": "--url is a local or private network address, which the sidecar does not call "
               "(FAREWELL_BRIDGE_ALLOWED_NETWORKS allows a network of your own)",
}


def url_problem(url: str, allowed_networks=()) -> str | None:
    """Where a site's URL is entered (``sites add``, the dashboard's settings): a code of
    URL_PROBLEMS, or None. The sidecar POSTs to this URL, so no other scheme, no credentials, no
    literal private address; a host name is checked each time it is connected to (safe_http)."""
    if len(url) > 500:
        return "scheme"
    return safe_http.url_problem(url, allowed_networks)


def site_problems(name: str, url: str, timezone_name: str, locale: str, allowed_networks=()) -> dict[str, str]:
    """What is wrong with a site's name, URL, time zone and locale, wherever they are entered
    (``sites add``, the dashboard's settings): ``{field: code}``, empty when all is well. The URL's
    codes are URL_PROBLEMS'; the others: ``name`` "length" (1 to 200 characters), ``timezone``
    "unknown" (not an IANA zone), ``locale`` "unsupported" (not in SUPPORTED_LOCALES)."""
    problems = {}
    if not name or len(name) > 200:
        problems["name"] = "length"
    if problem := url_problem(url, allowed_networks):
        problems["url"] = problem
    try:
        ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        problems["timezone"] = "unknown"
    if locale not in SUPPORTED_LOCALES:
        problems["locale"] = "unsupported"
    return problems


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def create_site(
    engine: Engine, url: str, name: str, timezone_name: str = "UTC", locale: str = "en_US", allowed_networks=(),
    holdout_percent: int | None = None,
) -> dict:
    """``allowed_networks``: FAREWELL_BRIDGE_ALLOWED_NETWORKS, where a literal private address may be.
    ``holdout_percent``: the share the site starts with (FAREWELL_HOLDOUT_PERCENT; None: the default)."""
    from .site_settings import DEFAULTS  # it imports this module
    url, name = url.strip(), name.strip()
    problems = site_problems(name, url, timezone_name, locale, allowed_networks)
    if "url" in problems:
        raise SiteError(URL_PROBLEMS[problems["url"]])
    if "name" in problems:
        raise SiteError("--name must be 1 to 200 characters")
    if "timezone" in problems:
        raise SiteError(f"--timezone {timezone_name!r} is not an IANA time zone such as Europe/Paris")
    if "locale" in problems:
        raise SiteError(f"--locale must be one of {', '.join(SUPPORTED_LOCALES)}")
    site = {
        "id": "site_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(12)),
        "name": name,
        "url": url,
        "timezone": timezone_name,
        "locale": locale,
        "secret": new_secret(),
        "created_at": datetime.now(timezone.utc),
        # Draws the holdout's groups (sidecar.domain.holdout); never shown, like the secret.
        "holdout_seed": secrets.token_hex(32),
    }
    if holdout_percent is not None and not 0 <= holdout_percent <= 50:
        raise SiteError("the holdout share must be from 0 to 50")
    with engine.begin() as conn:
        sites_store.insert_site(conn, **site)
        holdout_store.open_tally(conn, site["id"])  # before any event: sidecar.storage.holdout
        # Stored from the start, unlike the other settings: a later version with another default
        # must not move the share of a comparison already under way (sidecar.domain.holdout).
        settings_store.save_settings(conn, site["id"], {"holdout_percent": DEFAULTS["holdout_percent"]
                                                        if holdout_percent is None else holdout_percent},
                                     site["created_at"])
    return site


def rotate_secret(engine: Engine, site_id: str, now: datetime | None = None, immediately: bool = False) -> str:
    """Issue a new secret; the current one keeps verifying for 24 hours, time to paste the new one
    in WordPress, unless ``immediately`` (a leaked secret): then no older secret verifies from now
    on. Either way every dashboard session ends, since whoever held the old secret could mint
    sign-in tokens with it."""
    now = now or datetime.now(timezone.utc)
    secret = new_secret()
    with engine.begin() as conn:
        site = sites_store.get_site(conn, site_id)
        if site is None:
            raise SiteError(f"no site with id {site_id!r}")
        if immediately:
            sites_store.replace_secret(conn, site_id, secret, None, None)
        else:
            sites_store.replace_secret(
                conn, site_id, secret, site["secret"], now + timedelta(seconds=SECRET_ROTATION_GRACE_SECONDS)
            )
        dashboard_sessions.end_all(conn, site_id, now)
    return secret


def public_view(site: dict) -> dict:
    """A site without its secrets, for listings."""
    return {
        "site_id": site["id"],
        "name": site["name"],
        "url": site["url"],
        "timezone": site["timezone"],
        "locale": site["locale"],
        "created_at": site["created_at"].isoformat().replace("+00:00", "Z"),
    }
