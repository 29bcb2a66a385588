"""The sequence: each step's switch, delay and copy per language, with a live preview of the
email and a test sent to the signed-in owner."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, g, render_template, request
from markupsafe import escape

from ... import i18n
from ...db import get_engine
from ...domain.digest import mail_config
from ...domain.sample_emails import saved_sample, send_test_email
from ...domain.sequence_copy import StepEditError, delay_for_editor, delay_hours_from, save_step
from ...domain.sequences import STEPS, configured_steps
from ...domain.survey import LANGUAGES
from ...mail import catalog
from ...mail.render import copy_for
from ...mail.transports import SiteUnreachable, transport_from_url
from . import bp, go, t
from . import holdout as holdout_section  # its routes too: the share's form
from .common import now, preview_response


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
        holdout = holdout_section.section(conn)
    rows = [{"key": key, "label": t(f"step_{key}"), "enabled": c.enabled, "delay": _delay_text(c.delay),
             "overridden": bool(c.copy_overrides)} for key, c in steps.items()]
    return render_template("dashboard/sequence.html", rows=rows, holdout=holdout, h=holdout_section.text)


def _delay_text(delay: timedelta) -> str:
    """In days, in hours below one day: "3 days", "12 hours", "1 day 6 hours"."""
    days, hours = divmod(int(delay.total_seconds() // 3600), 24)
    said = [t("days_count", count=days)] if days else []
    return " ".join(said + [t("hours_count", count=hours)] if hours or not days else said)


def _blocks(kind) -> list[dict]:
    """Each copy block of the email, named in words with where the email uses it."""
    names = i18n.section(g.language, "email_blocks")
    return [{"key": block, "label": names[f"{kind.key}.{block}"], "hint": names[f"{kind.key}.{block}.hint"]}
            for block in kind.blocks()]


@bp.get("/sequence/<step>")
def sequence_step(step: str):
    kind = _step_or_404(step)
    language = _language_arg()
    with get_engine().begin() as conn:
        configured = configured_steps(conn, g.site["id"])[step]
    copy = copy_for(kind, language, configured.copy_overrides)
    delay_value, delay_unit = delay_for_editor(configured.delay)
    return render_template("dashboard/sequence_step.html", step=step, kind=kind, language=language,
                           configured=configured, copy=copy, blocks=_blocks(kind), delay_value=delay_value,
                           delay_unit=delay_unit, variables=", ".join("{" + v + "}" for v in kind.variables))


def _typed_copy(kind) -> dict[str, str]:
    """The step's blocks as typed in the form (an empty block = the default copy)."""
    return {block: (request.form.get(f"copy.{block}") or "").replace("\r\n", "\n").strip() for block in kind.blocks()}


@bp.post("/sequence/<step>")
def save_sequence_step(step: str):
    kind = _step_or_404(step)
    language = _language_arg()
    try:
        save_step(get_engine(), g.site["id"], step, language, _typed_copy(kind),
                  enabled=request.form.get("enabled") == "1", delay_hours=_typed_delay_hours(),
                  now=now())
    except StepEditError as error:
        labels = {block["key"]: block["label"] for block in _blocks(kind)}
        for key, values in error.problems:
            if "field" in values:  # the block as the editor names it
                values = {**values, "field": labels.get(values["field"], values["field"])}
            flash(t(key, **values), "error")
    else:
        flash(t("saved"))
    return go("dashboard.sequence_step", step=step, lang=language)


def _typed_delay_hours() -> str:
    """The delay as typed: a number of days or hours (the editor's), else whole hours (delay_hours)."""
    form = request.form
    if "delay_unit" in form:
        return delay_hours_from(form.get("delay", ""), form["delay_unit"])
    return form.get("delay_hours", "")


@bp.get("/sequence/<step>/preview")
def sequence_preview(step: str):
    _step_or_404(step)
    language = _language_arg()
    with get_engine().connect() as conn:
        rendered = saved_sample(conn, g.site, step, language, current_app.config["FAREWELL_PUBLIC_URL"], now())
    return preview_response(_with_subject(rendered))


@bp.post("/sequence/<step>/preview")
def sequence_live_preview(step: str):
    """The preview of the form as typed, before saving (the form's "Preview" button targets the frame)."""
    kind = _step_or_404(step)
    language = _language_arg()
    with get_engine().connect() as conn:
        rendered = saved_sample(conn, g.site, step, language, current_app.config["FAREWELL_PUBLIC_URL"], now(),
                                typed=_typed_copy(kind))
    return preview_response(_with_subject(rendered))


def _with_subject(rendered) -> str:
    """The email's HTML with its subject shown above it, escaped."""
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
    email = g.admin["email"]
    try:
        transport = transport_from_url(config["FAREWELL_MAIL_URL"], config["FAREWELL_BRIDGE_ALLOWED_NETWORKS"])
        send_test_email(get_engine(), transport, g.site, step, language, email, mail_config(config), now())
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
