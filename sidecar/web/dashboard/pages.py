"""The dashboard's pages. Each view reads through storage or domain functions and renders one
template; forms post back to their page and redirect (303) with a flash message."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import secrets
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent
from flask import Response, abort, current_app, flash, g, render_template, request, session

from ...db import get_engine
from ...domain import dashboard_sessions
from ...domain import digest as digest_domain
from ...domain.events import one_line
from ...domain.sequences import MAX_STEP_DELAY, STEPS, configured_steps, member_timezone
from ...domain.site_settings import SettingsError, effective_settings, update_settings
from ...domain.sites import SUPPORTED_LOCALES, rotate_secret, url_problem
from ...domain.survey import DEFAULT_DEFINITION, LANGUAGES, REASON_CODES, current_definition
from ...mail import catalog
from ...mail import message as mime
from ...mail.render import OVERRIDE_MAX, SUBJECT_MAX, babel_locale, copy_for, day, render
from ...mail.transports import SiteUnreachable, transport_from_url
from ...storage import dashboard as store
from ...storage import site_settings as settings_store
from ...storage.surveys import list_contact_requests
from . import bp, go, t
from .summary import week_summary

PAGE_SIZE = 25
SEARCH_MAX = 200
LABEL_MAX = 500
SURVEY_TEXTS = ("title", "intro", "reason_label", "comment_label", "contact_label", "contact_detail_label",
                "submit_label", "skip_label", "thanks")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _locale():
    return babel_locale(g.site["locale"] if g.language == g.site["locale"][:2] else None, g.language)


def _zone() -> ZoneInfo:
    return member_timezone(g.site)


def _when(at: datetime | None) -> str:
    return format_datetime(at.astimezone(_zone()), "short", locale=_locale()) if at else t("none")


def _number(value) -> str:
    return format_decimal(value, format="#,##0.#", locale=_locale())


def _money(amounts: dict) -> str:
    if not amounts:
        return t("none")
    return " · ".join(format_currency(Decimal(a), c, locale=_locale()) for c, a in amounts.items())


def _rate(value) -> str:
    return t("none") if value is None else format_percent(value, format="#,##0%", locale=_locale())


def _duration(delta: timedelta) -> str:
    return format_timedelta(delta, granularity="minute", threshold=1.5, locale=_locale())


def _reason_labels(conn) -> dict[str, str]:
    """Reason codes → labels in the admin's language (the site's latest survey, then the defaults)."""
    labels = {r["code"]: r["label"].get(g.language) or r["label"]["en"] for r in DEFAULT_DEFINITION["reasons"]}
    _version, definition = current_definition(conn, g.site["id"], _now())
    for reason in definition.get("reasons", []):
        label = reason.get("label") or {}
        labels[reason["code"]] = label.get(g.language) or label.get("en") or reason["code"]
    return labels


def _reason_label(labels: dict, code: str | None) -> str:
    return labels.get(code, code) if code else t("no_reason")


# --------------------------------------------------------------------------- overview
@bp.get("/")
def overview():
    engine = get_engine()
    with engine.begin() as conn:
        summary = week_summary(conn, g.site, _now())
        labels = _reason_labels(conn)
    digest = summary["digest"]
    h = digest["headline"]
    columns = (h["week"], h["previous"], h["average_4_weeks"])
    headline = [
        (t("row_cancellations"), [_number(c["cancellations"]) for c in columns]),
        (t("row_by_member"), [_number(c["by_member"]) for c in columns]),
        (t("row_revenue_lost"), [_money(c["revenue_lost"]) for c in columns]),
        (t("row_answer_rate"), [_rate(c["answer_rate"]) for c in columns]),
        (t("row_winbacks"), [_number(c["winbacks"]) for c in columns]),
        (t("row_revenue_won"), [_money(c["revenue_won_back"]) for c in columns]),
    ]
    return render_template("dashboard/overview.html", headline=headline, trend=_trend_chart(digest["trend"]),
                           reasons=_reason_chart(digest["reasons"], labels),
                           revenue=_revenue_chart(h["week"]), open_requests=digest["contact_requests"]["open_count"])


def _trend_chart(trend: list[dict]) -> dict:
    """Grouped bars (cancellations, win-backs) per week, as SVG coordinates."""
    width, height, top = 640, 200, 20
    top_value = max([max(w["cancellations"], w["winbacks"]) for w in trend] + [1])
    slot = width / len(trend)
    bars, labels = [], []
    for i, week in enumerate(trend):
        for j, key in enumerate(("cancellations", "winbacks")):
            value = week[key]
            bar_height = round((height - top) * value / top_value, 1)
            bars.append({"x": round(i * slot + 6 + j * (slot - 12) / 2, 1), "y": round(height - bar_height, 1),
                         "width": round((slot - 14) / 2, 1), "height": bar_height, "kind": key, "value": value,
                         "week": week["week"]})
        labels.append({"x": round(i * slot + slot / 2, 1), "text": week["week"].split("-")[1]})
    return {"width": width, "height": height, "bars": bars, "labels": labels, "top": top_value}


def _reason_chart(reasons: list[dict], labels: dict) -> list[dict]:
    top = max([max(r["count"], r["average_4_weeks"]) for r in reasons] + [1])
    return [{"label": _reason_label(labels, r["reason"]), "count": r["count"], "average": _number(r["average_4_weeks"]),
             "count_width": round(300 * r["count"] / top, 1), "average_width": round(300 * r["average_4_weeks"] / top, 1),
             "trend": r["trend"]} for r in reasons]


def _revenue_chart(week: dict) -> list[dict]:
    currencies = sorted(set(week["revenue_lost"]) | set(week["revenue_won_back"]))
    rows = []
    for currency in currencies:
        lost, won = Decimal(week["revenue_lost"].get(currency, 0)), Decimal(week["revenue_won_back"].get(currency, 0))
        top = max(lost, won, Decimal(1))
        rows.append({"currency": currency, "lost": _money({currency: lost}), "won": _money({currency: won}),
                     "lost_width": round(float(300 * lost / top), 1), "won_width": round(float(300 * won / top), 1)})
    return rows


# --------------------------------------------------------------------------- feedback
def _filters() -> tuple[dict, dict]:
    """The feedback filters from the query string: (for storage, as typed for the form)."""
    args = request.args
    typed = {key: (args.get(key) or "").strip() for key in ("reason", "plan", "from", "to", "q")}
    filters: dict = {}
    if typed["reason"] in REASON_CODES or typed["reason"] == "none":
        filters["reason"] = typed["reason"]
    if typed["plan"]:
        filters["plan"] = typed["plan"][:200]
    zone = _zone()
    for key, name, shift in (("from", "since", 0), ("to", "until", 1)):
        try:
            day_ = date.fromisoformat(typed[key]) if typed[key] else None
        except ValueError:
            day_ = None
            typed[key] = ""
        if day_:
            filters[name] = datetime.combine(day_ + timedelta(days=shift), datetime.min.time(), zone) \
                .astimezone(timezone.utc)
    if typed["q"]:
        filters["q"] = typed["q"][:SEARCH_MAX]
    return filters, typed


@bp.get("/feedback")
def feedback():
    filters, typed = _filters()
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    with get_engine().begin() as conn:
        total = store.count_answers(conn, g.site["id"], filters)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(page, pages)
        rows = store.list_answers(conn, g.site["id"], filters, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        plans = store.plan_names(conn, g.site["id"])
        labels = _reason_labels(conn)
    answers = [{**row, "when": _when(row["answered_at"]), "reason_label": _reason_label(labels, row["reason"])}
               for row in rows]
    query = {k: v for k, v in typed.items() if v}
    return render_template("dashboard/feedback.html", answers=answers, total=total, page=page, pages=pages,
                           typed=typed, query=query, plans=plans,
                           reasons=[(code, labels.get(code, code)) for code in REASON_CODES])


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _line(value: str | None) -> str | None:
    """A one-line field on one line: done when it comes in (events.one_line), again here for rows
    stored before that, so each export row stays one line in a text editor (comments excepted)."""
    return one_line(value) if value else value


@bp.get("/feedback.csv")
def feedback_csv():
    filters, _typed = _filters()
    with get_engine().begin() as conn:
        rows = store.list_answers(conn, g.site["id"], filters)
        labels = _reason_labels(conn)
    zone = _zone()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([t("col_date"), "email", t("col_member"), t("col_plan"), "reason", t("col_reason"),
                     t("col_follow_up"), t("col_comment"), t("col_contact"), "contact", t("col_language"),
                     t("col_version")])
    for row in rows:
        writer.writerow([csv_cell(v) for v in (
            row["answered_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M"), row["email"],
            _line(row["first_name"]), _line(row["plan_name"]), row["reason"],
            _reason_label(labels, row["reason"]) if row["reason"] else "", row["follow_up"], row["comment"],
            t("yes") if row["contact_requested"] else t("no"), _line(row["contact"]), row["locale"],
            row["definition_version"])])
    name = f"farewell-feedback-{_now().astimezone(zone).date().isoformat()}.csv"
    # The BOM tells Excel the file is UTF-8 (without it, French accents come out garbled).
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --------------------------------------------------------------------------- contact requests
@bp.get("/contact-requests")
def contact_requests():
    now = _now()
    with get_engine().begin() as conn:
        open_rows = list_contact_requests(conn, g.site["id"], "open")
        answered_rows = list_contact_requests(conn, g.site["id"], "answered")[-50:][::-1]
        labels = _reason_labels(conn)

    def view(row):
        return {**row, "requested": _when(row["requested_at"]), "answered": _when(row["answered_at"]),
                "waited": _duration((row["answered_at"] or now) - row["requested_at"]),
                "reason_label": _reason_label(labels, row["reason"])}

    return render_template("dashboard/contact_requests.html", open_rows=[view(r) for r in open_rows],
                           answered_rows=[view(r) for r in answered_rows])


@bp.post("/contact-requests/<int:request_id>/answered")
def mark_answered(request_id: int):
    with get_engine().begin() as conn:
        changed = store.mark_contact_request_answered(conn, g.site["id"], request_id, _now())
    if not changed:
        abort(404)
    flash(t("marked_answered"))
    return go("dashboard.contact_requests")


# --------------------------------------------------------------------------- sequence
def _step_or_404(step: str):
    if step not in catalog.KINDS or step not in {s.key for s in STEPS}:
        abort(404)
    return catalog.KINDS[step]


def _language_arg() -> str:
    language = request.values.get("lang") or g.language
    return language if language in LANGUAGES else "en"


@bp.get("/sequence")
def sequence():
    with get_engine().begin() as conn:
        steps = configured_steps(conn, g.site["id"])
    rows = [{"key": key, "label": t(f"step_{key}"), "enabled": c.enabled, "delay": _delay_text(c.delay),
             "overridden": bool(c.copy_overrides)} for key, c in steps.items()]
    return render_template("dashboard/sequence.html", rows=rows)


def _delay_text(delay: timedelta) -> str:
    hours = int(delay.total_seconds() // 3600)
    return t("days", count=hours // 24) if hours >= 48 and hours % 24 == 0 else t("hours", count=hours)


@bp.get("/sequence/<step>")
def sequence_step(step: str):
    kind = _step_or_404(step)
    language = _language_arg()
    with get_engine().begin() as conn:
        configured = configured_steps(conn, g.site["id"])[step]
    copy = copy_for(kind, language, configured.copy_overrides)
    return render_template("dashboard/sequence_step.html", step=step, kind=kind, language=language,
                           configured=configured, copy=copy, delay_hours=int(configured.delay.total_seconds() // 3600),
                           variables=", ".join("{" + v + "}" for v in kind.variables))


def _copy_from_form(kind, language: str) -> tuple[dict, list[str]]:
    """The blocks as typed, and what is wrong with them."""
    errors, typed = [], {}
    for block in kind.blocks():
        text = (request.form.get(f"copy.{block}") or "").replace("\r\n", "\n").strip()
        limit = SUBJECT_MAX if block.startswith("subject") else OVERRIDE_MAX
        if len(text) > limit:
            errors.append(t("too_long", field=block))
        typed[block] = text
    return typed, errors


@bp.post("/sequence/<step>")
def save_sequence_step(step: str):
    kind = _step_or_404(step)
    language = _language_arg()
    typed, errors = _copy_from_form(kind, language)
    try:
        hours = int(request.form.get("delay_hours", ""))
        if not 0 <= hours <= MAX_STEP_DELAY.total_seconds() // 3600:
            raise ValueError
    except ValueError:
        errors.append(t("invalid_delay"))
    if errors:
        for error in errors:
            flash(error, "error")
        return go("dashboard.sequence_step", step=step, lang=language)
    defaults = kind.copy[language]
    engine = get_engine()
    with engine.begin() as conn:
        configured = configured_steps(conn, g.site["id"])[step]
        overrides = {lang: dict(blocks) for lang, blocks in configured.copy_overrides.items() if isinstance(blocks, dict)}
        # Only what differs from the default is kept: a later change of the default copy still reaches this site.
        overrides[language] = {b: text for b, text in typed.items() if text and text != defaults.get(b, "").strip()}
        overrides = {lang: blocks for lang, blocks in overrides.items() if blocks}
        settings_store.save_step(conn, g.site["id"], step, {
            "enabled": request.form.get("enabled") == "1", "delay_seconds": hours * 3600,
            "copy_overrides": json.dumps(overrides, ensure_ascii=False) if overrides else None}, _now())
    flash(t("saved"))
    return go("dashboard.sequence_step", step=step, lang=language)


def sample_email(step: str, language: str, overrides: dict, site: dict, settings: dict, public_url: str):
    """The step's email as a member would get it, with sample member data."""
    kind = catalog.KINDS[step]
    locale = babel_locale(site["locale"] if site["locale"].startswith(language) else None, language)
    zone = member_timezone(site)
    now = _now()
    survey_url = f"{site['url'].rstrip('/')}/?farewell_survey=example"
    variables = {"first_name": "Camille", "site_name": site["name"], "site_url": site["url"], "plan_name": "Premium",
                 "support_email": settings["support_email"], "sender_name": settings["sender_name"] or site["name"],
                 "access_ends": day(now + timedelta(days=10), zone, locale), "survey_url": survey_url}
    offer, subject_block = None, "subject"
    if step == "offer":
        code = settings["default_offer_code"] or "EXAMPLE20"
        variables.update(percent=settings["discount_percent"], code=code,
                         expires=day(now + timedelta(days=settings["coupon_days"]), zone, locale),
                         news_url=settings["news_url"], offer_text=settings["default_offer_text"])
        offer = {"variant": "discount", "code": code, "percent": settings["discount_percent"],
                 "news_url": settings["news_url"], "text": settings["default_offer_text"]}
        subject_block = "subject_discount"
    context = {"site_url": site["url"], "survey_url": survey_url, "access_ends": variables["access_ends"],
               "unsubscribe_url": f"{public_url}/u/example", "postal_address": settings["postal_address"],
               "offer": offer}
    return render(kind, language, variables, context, overrides, subject_block=subject_block)


def _preview_response(html: str) -> str:
    g.email_preview = True  # sandboxed, framed by the dashboard only (see PREVIEW_CSP)
    return html


@bp.get("/sequence/<step>/preview")
def sequence_preview(step: str):
    _step_or_404(step)
    language = _language_arg()
    with get_engine().begin() as conn:
        configured = configured_steps(conn, g.site["id"])[step]
        settings = effective_settings(conn, g.site["id"])
    rendered = sample_email(step, language, configured.copy_overrides, g.site, settings,
                            current_app.config["FAREWELL_PUBLIC_URL"])
    return _preview_response(_with_subject(rendered))


@bp.post("/sequence/<step>/preview")
def sequence_live_preview(step: str):
    """The preview of the form as typed, before saving (the form's "Preview" button targets the frame)."""
    kind = _step_or_404(step)
    language = _language_arg()
    typed, _errors = _copy_from_form(kind, language)
    with get_engine().begin() as conn:
        settings = effective_settings(conn, g.site["id"])
    rendered = sample_email(step, language, {language: {b: v for b, v in typed.items() if v}}, g.site, settings,
                            current_app.config["FAREWELL_PUBLIC_URL"])
    return _preview_response(_with_subject(rendered))


def _with_subject(rendered) -> str:
    """The email's HTML with its subject shown above it, escaped."""
    from markupsafe import escape

    banner = (f'<div style="font:14px sans-serif;padding:8px 12px;background:#eef;border-bottom:1px solid #ccd">'
              f'<strong>Subject:</strong> {escape(rendered.subject)}</div>')
    html = rendered.html
    marker = html.lower().find("<body")
    if marker >= 0:
        end = html.find(">", marker) + 1
        return html[:end] + banner + html[end:]
    return banner + html


@bp.post("/sequence/<step>/test")
def sequence_test(step: str):
    _step_or_404(step)
    language = _language_arg()
    config = current_app.config
    with get_engine().begin() as conn:
        configured = configured_steps(conn, g.site["id"])[step]
        settings = effective_settings(conn, g.site["id"])
    rendered = sample_email(step, language, configured.copy_overrides, g.site, settings, config["FAREWELL_PUBLIC_URL"])
    email = g.admin["email"]
    domain = config["FAREWELL_MAIL_FROM"].rsplit("@", 1)[-1] or "localhost"
    message_id = f"<farewell.test.{secrets.token_hex(8)}@{domain}>"
    try:
        message = mime.build(rendered, sender=mime.address(config["FAREWELL_MAIL_FROM"],
                                                           settings["sender_name"] or g.site["name"]),
                             to=[mime.address(email)], message_id=message_id, date=_now())
        transport = transport_from_url(config["FAREWELL_MAIL_URL"], config["FAREWELL_BRIDGE_ALLOWED_NETWORKS"])
        with transport.session() as session:
            session.send(mime.Outgoing(message=message, sender=config["FAREWELL_MAIL_FROM"], recipients=(email,),
                                       site=g.site, message_id=message_id))
    except SiteUnreachable:
        # One sentence for every way of not reaching the site (refused, timed out, TLS, a destination
        # the sidecar may not call): the address is set on this dashboard, and telling them apart
        # would let it probe ports. The server's log has the detail.
        flash(t("test_site_unreachable"), "error")
    except Exception as error:  # noqa: BLE001 - shown to the owner, who can fix the mail settings
        flash(t("test_failed", error=type(error).__name__), "error")
    else:
        flash(t("test_sent", email=email))
    return go("dashboard.sequence_step", step=step, lang=language)


# --------------------------------------------------------------------------- survey
def _survey_form(definition: dict) -> list[dict]:
    """Every reason code, included or not, with its labels (the site's, else the default's)."""
    current = {r["code"]: r for r in definition.get("reasons", [])}
    defaults = {r["code"]: r for r in DEFAULT_DEFINITION["reasons"]}
    order = [r["code"] for r in definition.get("reasons", [])] + [c for c in REASON_CODES if c not in current]
    return [{"code": code, "included": code in current, "reason": current.get(code) or defaults[code]}
            for code in order if code in current or code in defaults]


@bp.get("/survey")
def survey():
    with get_engine().begin() as conn:
        version, definition = current_definition(conn, g.site["id"], _now())
    return render_template("dashboard/survey.html", version=version, definition=definition,
                           reasons=_survey_form(definition), texts=SURVEY_TEXTS, languages=LANGUAGES)


def _label(name: str, errors: list) -> dict:
    label = {}
    for language in LANGUAGES:
        text = (request.form.get(f"{name}.{language}") or "").replace("\r\n", "\n").strip()
        if not text or len(text) > LABEL_MAX:
            errors.append(name)
        label[language] = text[:LABEL_MAX]
    return label


@bp.post("/survey")
def save_survey():
    engine = get_engine()
    errors: list[str] = []
    with engine.begin() as conn:
        version, definition = current_definition(conn, g.site["id"], _now())
    new = json.loads(json.dumps(definition))
    for key in SURVEY_TEXTS:
        new[key] = _label(key, errors)
    reasons = []
    for item in _survey_form(definition):
        code = item["code"]
        if request.form.get(f"reason.{code}.included") != "1":
            continue
        reason = json.loads(json.dumps(item["reason"]))
        reason["label"] = _label(f"reason.{code}.label", errors)
        follow_up = reason.get("follow_up")
        if follow_up:
            follow_up["label"] = _label(f"reason.{code}.follow_up", errors)
            for choice in follow_up.get("choices", []):
                choice["label"] = _label(f"reason.{code}.choice.{choice['code']}", errors)
        reasons.append(reason)
    if not reasons:
        flash(t("survey_needs_reason"), "error")
        return go("dashboard.survey")
    if errors:
        flash(t("survey_label_missing"), "error")
        return go("dashboard.survey")
    new["reasons"] = reasons
    new["pinned_last"] = [code for code in definition.get("pinned_last", []) if any(r["code"] == code for r in reasons)]
    with engine.begin() as conn:
        latest, _ = current_definition(conn, g.site["id"], _now())
        saved = latest + 1
        while not store.insert_definition(conn, g.site["id"], saved, json.dumps(new, ensure_ascii=False), _now()):
            saved += 1
    flash(t("survey_saved", version=saved))
    return go("dashboard.survey")


# --------------------------------------------------------------------------- digest
def _last_week():
    return digest_domain.week_of(_now(), member_timezone(g.site)).previous()


@bp.get("/digest")
def digest():
    with get_engine().begin() as conn:
        settings = digest_domain.digest_settings(conn, g.site["id"])
    return render_template("dashboard/digest.html", settings=settings, week=str(_last_week()),
                           recipients=", ".join(settings["recipients"]) if settings["recipients_customised"] else "",
                           defaults=", ".join(settings["default_recipients"]))


@bp.post("/digest")
def save_digest():
    with get_engine().begin() as conn:
        try:
            digest_domain.save_digest_settings(conn, g.site["id"], request.form.get("weekday"),
                                               request.form.get("hour"), request.form.get("recipients", ""))
        except digest_domain.DigestSettingsError as error:
            flash(str(error), "error")
            return go("dashboard.digest")
    flash(t("saved"))
    return go("dashboard.digest")


def digest_html(site: dict, week, now: datetime, public_url_config) -> str:
    """The digest email's HTML as a browser shows it: the chart as a data: URI instead of cid:."""
    with get_engine().begin() as conn:
        data = digest_domain.build_digest(conn, site, week, now)
    from ...mail.render import language_of

    rendered = digest_domain.render_digest(data, site, language_of(site["locale"]),
                                           digest_domain.dashboard_url(digest_domain.mail_config(public_url_config)))
    html = rendered.html
    for image in rendered.images:
        html = html.replace(f"cid:{image.cid}",
                            f"data:image/{image.subtype};base64,{base64.b64encode(image.content).decode()}")
    return html


@bp.get("/digest/preview")
def digest_preview():
    week = _last_week()
    if request.args.get("week"):
        try:
            week = digest_domain.IsoWeek.parse(request.args["week"])
        except ValueError:
            abort(404)
    return _preview_response(digest_html(g.site, week, _now(), current_app.config))


@bp.post("/digest/send")
def digest_send():
    config = current_app.config
    email = g.admin["email"]
    try:
        transport = transport_from_url(config["FAREWELL_MAIL_URL"], config["FAREWELL_BRIDGE_ALLOWED_NETWORKS"])
        result = digest_domain.send_digest(get_engine(), transport, g.site["id"],
                                           _last_week(), recipients=[email], mail=digest_domain.mail_config(config))
        if result.status != "sent":
            raise RuntimeError(result.detail or result.status)
    except Exception as error:  # noqa: BLE001 - shown to the owner
        flash(t("test_failed", error=type(error).__name__), "error")
    else:
        flash(t("digest_sent", email=email))
    return go("dashboard.digest")


# --------------------------------------------------------------------------- settings
SETTING_FIELDS = ("sender_name", "support_email", "owner_emails", "postal_address", "default_offer_text",
                  "default_offer_code")


@bp.get("/settings")
def settings():
    return _settings_page()


def _settings_page(new_secret: str | None = None):
    with get_engine().begin() as conn:
        values = effective_settings(conn, g.site["id"])
    return render_template("dashboard/settings.html", values=values, fields=SETTING_FIELDS, new_secret=new_secret,
                           locales=SUPPORTED_LOCALES)


@bp.post("/settings")
def save_settings():
    form = request.form
    site_changes, error = {}, None
    name, url = form.get("name", "").strip(), form.get("url", "").strip()
    zone, locale = form.get("timezone", "").strip(), form.get("locale", "")
    if not name or len(name) > 200:
        error = "name: 1 to 200 characters"
    elif problem := url_problem(url, current_app.config["FAREWELL_BRIDGE_ALLOWED_NETWORKS"]):
        error = t(f"url_{problem}")
    elif locale not in SUPPORTED_LOCALES:
        error = f"locale: one of {', '.join(SUPPORTED_LOCALES)}"
    else:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            error = "timezone: an IANA time zone such as Europe/Paris"
    if error is None:
        site_changes = {"name": name, "url": url, "timezone": zone, "locale": locale}
        try:
            # "" resets a setting to its default.
            update_settings(get_engine(), g.site["id"], {key: form.get(key, "") for key in SETTING_FIELDS})
        except SettingsError as problem:
            error = str(problem)
    if error:
        flash(error, "error")
        return go("dashboard.settings")
    with get_engine().begin() as conn:
        store.update_site(conn, g.site["id"], **site_changes)
    flash(t("saved"))
    return go("dashboard.settings")


@bp.post("/settings/secret")
def rotate():
    if request.form.get("confirm") != "1":
        flash(t("secret_confirm"), "error")
        return go("dashboard.settings")
    now = _now()
    secret = rotate_secret(get_engine(), g.site["id"], now=now, immediately=request.form.get("immediately") == "1")
    # Every session ended with the old secret; whoever asked for the new one keeps working.
    session.update(dashboard_sessions.reissued(now))
    # Shown once, in this response only: never stored in the session or a flash message.
    return _settings_page(new_secret=secret)
