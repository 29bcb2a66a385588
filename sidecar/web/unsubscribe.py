"""Unsubscribe links: a confirmation page (GET) and the unsubscribe itself (POST).

A GET never unsubscribes: mail scanners and link previews open every link. The POST is also the
RFC 8058 one-click request that mailbox providers send (body ``List-Unsubscribe=One-Click``, no
cookies): it needs no CSRF token (the signed token in the URL is the authority), answers 200 and
never redirects.

Both are rate limited per client address (domain.rate_limits.UNSUBSCRIBE, shared by every
process through the database), except a POST with a genuine link, see ``unsubscribe``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, render_template, request

from .. import i18n
from ..db import get_engine
from ..domain import unsubscribe as unsubscribe_domain
from ..domain.rate_limits import UNSUBSCRIBE
from ..domain.tokens import TokenError, read_unsubscribe_token
from ..mail.render import language_of
from ..storage.sites import get_site
from .errors import over_limit

bp = Blueprint("unsubscribe", __name__)

# The form has one field; the one-click body is 26 bytes.
BODY_MAX_BYTES = 4096


def _words(language: str):
    return i18n.section(language, "unsubscribe")


def _page(template: str, status: int = 200, **values):
    response = current_app.response_class(render_template(template, **values), status=status,
                                          mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    # The token in the URL must not leak to other sites, nor the page be framed or indexed.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _invalid():
    return _page("unsubscribe/notice.html", 404, lang="en", copies=[_words("en"), _words("fr")],
                 title="invalid_title", text="invalid")


def _slow_down(retry_after: int):
    """429 in the visitor's language (the browser's: the member's is in the database, and a limited
    request should not cost a lookup); both languages when the browser names neither."""
    language = request.accept_languages.best_match(i18n.LANGUAGES)
    copies = [_words(language)] if language else [_words("en"), _words("fr")]
    response = _page("unsubscribe/notice.html", 429, lang=language or "en", copies=copies,
                     title="slow_title", text="slow")
    response.headers["Retry-After"] = str(retry_after)
    return response


def _resolve(token: str):
    """(site, member) of a valid link, or None."""
    try:
        site_id, member_id = read_unsubscribe_token(current_app.config["SECRET_KEY"], token)
    except TokenError:
        return None
    engine = get_engine()
    with engine.connect() as conn:
        site = get_site(conn, site_id)
    if site is None:
        return None
    try:
        member = unsubscribe_domain.member_of_link(engine, site_id, member_id)
    except unsubscribe_domain.UnknownMember:
        return None
    return site, member


def _is_genuine(token: str) -> bool:
    try:
        read_unsubscribe_token(current_app.config["SECRET_KEY"], token)
    except TokenError:
        return False
    return True


def _masked(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"


def _copy(site: dict, member: dict) -> tuple[str, dict]:
    language = language_of(member["locale"], site["locale"])
    names = {"site": site["name"], "email": _masked(member["email"])}
    return language, {key: text.format(**names) for key, text in _words(language).items()}


@bp.get("/u/<token>")
def confirm(token: str):
    retry_after = over_limit(UNSUBSCRIBE)
    if retry_after is not None:
        return _slow_down(retry_after)
    found = _resolve(token)
    if found is None:
        return _invalid()
    site, member = found
    language, copy = _copy(site, member)
    if unsubscribe_domain.is_unsubscribed(get_engine(), current_app.config["SECRET_KEY"], site["id"], member["email"]):
        return _page("unsubscribe/done.html", lang=language, copy=copy)
    return _page("unsubscribe/confirm.html", lang=language, copy=copy)


@bp.post("/u/<token>")
def unsubscribe(token: str):
    request.max_content_length = BODY_MAX_BYTES
    request.get_data(cache=False)  # read (and cap) the one-click body; its content changes nothing
    # A genuine link is honoured even over the limit: an unsubscribe must never be lost. RFC 8058
    # one-click POSTs come from the mailbox provider's servers, a few addresses shared by all its
    # users, so many members unsubscribing after one send look like one busy client; a provider
    # is not bound to retry a 429, and the law (GDPR Art. 21, CAN-SPAM) asks us to honour every
    # opt-out. The token's HMAC is checked without the database, so only requests with a link we
    # issued get past this point; everything else (guessing, garbage) is counted and limited.
    genuine = _is_genuine(token)
    if not genuine:
        retry_after = over_limit(UNSUBSCRIBE)
        if retry_after is not None:
            return _slow_down(retry_after)
    found = _resolve(token)
    if found is None:
        return _invalid()
    site, member = found
    unsubscribe_domain.unsubscribe(get_engine(), current_app.config["SECRET_KEY"], site["id"], member["id"],
                                   datetime.now(timezone.utc))
    language, copy = _copy(site, member)
    return _page("unsubscribe/done.html", lang=language, copy=copy)
