"""Per-site settings for the emails: who they come from, the footer, offers and the sequence rules.

Nothing needs to be set for the sequence to work: every setting has a default here, and a site's
row only stores what its owner changed.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.engine import Connection, Engine

from ..storage import dashboard as dashboard_store
from ..storage import site_settings as store
from ..storage import sites as sites_store
from .events import is_email
from .sites import site_problems

DEFAULT_HOLDOUT_PERCENT = 10

DEFAULTS: dict = {
    "sender_name": None,  # the site's name
    "support_email": None,  # Reply-To of the members' emails; none = replies go to the sender
    "owner_emails": None,  # who is alerted when a member asks to be contacted; none = support_email
    "postal_address": None,  # shown in every email's footer (CAN-SPAM asks for one)
    "default_offer_text": None,  # the offer for reasons without a tailored one
    "default_offer_code": None,  # a code to give when the bridge cannot create a coupon
    "news_url": None,  # "what's new" page, for members who missed a feature
    "discount_percent": 20,  # the one-time renewal discount for members who found it too expensive
    "coupon_days": 14,  # how long that coupon lasts
    "winback_window_days": 90,  # a comeback this long after a cancellation counts as a win-back
    "min_account_age_days": 5,  # no marketing emails to accounts younger than this when they cancelled
    "max_emails_per_cancellation": 4,
    # The share of voluntary cancellations that get the farewell and no follow-up, to measure
    # whether the follow-ups bring anyone back (sidecar.domain.holdout); 0 turns the holdout off.
    "holdout_percent": DEFAULT_HOLDOUT_PERCENT,
}

_TEXT_LIMITS = {"sender_name": 200, "postal_address": 500, "default_offer_text": 2000, "default_offer_code": 64,
                "news_url": 500}
_NUMBER_LIMITS = {"discount_percent": (1, 90), "coupon_days": (1, 365), "winback_window_days": (1, 730),
                  "min_account_age_days": (0, 365), "max_emails_per_cancellation": (1, 10), "holdout_percent": (0, 50)}


class SettingsError(ValueError):
    pass


def effective_settings(conn: Connection, site_id: str) -> dict:
    """The site's settings with every default filled in."""
    stored = store.get_settings(conn, site_id) or {}
    return {key: stored.get(key) if stored.get(key) is not None else default for key, default in DEFAULTS.items()}


def owner_addresses(settings: dict) -> list[str]:
    listed = settings["owner_emails"] or settings["support_email"] or ""
    return [address.strip() for address in listed.split(",") if address.strip()]


def update_settings(engine: Engine, site_id: str, changes: dict, now: datetime | None = None) -> dict:
    """Check and store changed settings (None leaves a setting alone, "" resets it to the default)."""
    now = now or datetime.now(timezone.utc)
    values = _checked_changes(changes)
    with engine.begin() as conn:
        if sites_store.get_site(conn, site_id) is None:
            raise SettingsError(f"no site with id {site_id!r}")
        if values:
            store.save_settings(conn, site_id, values, now)
        return effective_settings(conn, site_id)


class SiteFieldError(SettingsError):
    """A site's name, URL, time zone or locale refused: ``field`` and its ``code`` (sites.site_problems)."""

    def __init__(self, field: str, code: str):
        super().__init__(f"{field}: {code}")
        self.field, self.code = field, code


# The order in which the dashboard reports a site's fields, one problem at a time.
SITE_FIELDS = ("name", "url", "locale", "timezone")


def save_site_settings(engine: Engine, site_id: str, site: dict, changes: dict, allowed_networks=(),
                       now: datetime | None = None) -> dict:
    """The dashboard's settings page: the site's ``name``, ``url``, ``timezone`` and ``locale``
    (all four, as entered) and its email settings (``changes``, as for update_settings), checked
    first and stored in one transaction: a refused field leaves everything as it was. Raises
    SiteFieldError for the first site field refused (SITE_FIELDS order), else SettingsError."""
    problems = site_problems(site["name"], site["url"], site["timezone"], site["locale"], allowed_networks)
    for field in SITE_FIELDS:
        if field in problems:
            raise SiteFieldError(field, problems[field])
    values = _checked_changes(changes)
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        if sites_store.get_site(conn, site_id) is None:
            raise SettingsError(f"no site with id {site_id!r}")
        if values:
            store.save_settings(conn, site_id, values, now)
        dashboard_store.update_site(conn, site_id, **{field: site[field] for field in SITE_FIELDS})
        return effective_settings(conn, site_id)


def _checked_changes(changes: dict) -> dict:
    values: dict = {}
    for key, value in changes.items():
        if key not in DEFAULTS:
            raise SettingsError(f"unknown setting {key!r}")
        if value is None:
            continue
        values[key] = _checked(key, value)
    return values


def _checked(key: str, value):
    if value == "":
        return None
    if key in _NUMBER_LIMITS:
        low, high = _NUMBER_LIMITS[key]
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{key} must be a whole number") from None
        if not low <= number <= high:
            raise SettingsError(f"{key} must be from {low} to {high}")
        return number
    text = str(value).strip()
    if key == "support_email":
        if not is_email(text):
            raise SettingsError("support_email must be an email address")
    elif key == "owner_emails":
        addresses = [a.strip() for a in text.split(",") if a.strip()]
        if not addresses or not all(is_email(a) for a in addresses) or len(text) > 1000:
            raise SettingsError("owner_emails must be email addresses separated by commas")
        text = ", ".join(addresses)
    elif key == "news_url" and not text.startswith(("http://", "https://")):
        raise SettingsError("news_url must be an http:// or https:// address")
    if len(text) > _TEXT_LIMITS.get(key, 1000):
        raise SettingsError(f"{key} must be at most {_TEXT_LIMITS.get(key, 1000)} characters")
    if any(ch in text for ch in "\r\n") and key not in ("postal_address", "default_offer_text"):
        raise SettingsError(f"{key} must be one line")
    return text
