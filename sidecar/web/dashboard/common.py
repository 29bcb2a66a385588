"""What several dashboard pages share: the clock, and how numbers, money, dates and reasons are
shown in the admin's language and the site's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta, get_timezone_name
from babel.numbers import format_currency, format_decimal, format_percent
from flask import g

from ...domain.sequences import member_timezone
from ...domain.survey import DEFAULT_DEFINITION, current_definition
from ...mail.render import babel_locale
from . import bp, t


def now() -> datetime:
    return datetime.now(timezone.utc)


def locale():
    return babel_locale(g.site["locale"] if g.language == g.site["locale"][:2] else None, g.language)


def zone() -> ZoneInfo:
    return member_timezone(g.site)


# Day, month in letters, year and a 24-hour time: "30 Nov 2026, 23:54", "30 nov. 2026, 23:54". The
# locale's "short" format ("11/30/26, 11:54 PM") reads differently on either side of the Atlantic.
WHEN_PATTERN = "d MMM y, HH:mm"


def when(at: datetime | None) -> str:
    """A moment in the site's time zone, which the page names once (``zone_name``)."""
    return format_datetime(at.astimezone(zone()), WHEN_PATTERN, locale=locale()) if at else t("none")


@bp.app_template_global("zone_name")
def zone_name() -> str:
    """The site's time zone as people say it ("Central European Time (Europe/Paris)"); the zone's
    id alone where the language has no name for it (UTC, Etc/GMT+3)."""
    site_zone = zone()
    name = get_timezone_name(site_zone, "long", locale=locale(), zone_variant="generic")
    return site_zone.key if "(" in name else f"{name} ({site_zone.key})"


def number(value) -> str:
    return format_decimal(value, format="#,##0.#", locale=locale())


def money(amounts: dict) -> str:
    if not amounts:
        return t("none")
    return " · ".join(format_currency(Decimal(a), c, locale=locale()) for c, a in amounts.items())


def rate(value) -> str:
    return t("none") if value is None else format_percent(value, format="#,##0%", locale=locale())


def duration(delta: timedelta) -> str:
    return format_timedelta(delta, granularity="minute", threshold=1.5, locale=locale())


def reason_labels(conn) -> dict[str, str]:
    """Reason codes → labels in the admin's language (the site's latest survey, then the defaults)."""
    labels = {r["code"]: r["label"].get(g.language) or r["label"]["en"] for r in DEFAULT_DEFINITION["reasons"]}
    _version, definition = current_definition(conn, g.site["id"], now())
    for reason in definition.get("reasons", []):
        label = reason.get("label") or {}
        labels[reason["code"]] = label.get(g.language) or label.get("en") or reason["code"]
    return labels


def reason_label(labels: dict, code: str | None) -> str:
    return labels.get(code, code) if code else t("no_reason")


def preview_response(html: str) -> str:
    """An email preview: served sandboxed, framed by the dashboard only (see PREVIEW_CSP)."""
    g.email_preview = True
    return html
