"""``python -m sidecar …``: serve, migrate and manage sites.

Output meant for programs (site JSON) goes to stdout; messages for people go to stderr; every
failure is one line starting with "error:" and a non-zero exit.
"""

from __future__ import annotations

import functools
import json
import sys

import click

from . import config, db, logs
from .domain import sites as site_domain
from .storage import sites as sites_store


def _fail(message: str, code: int = 1):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _engine(settings=None):
    """The configured database, migrated to the current schema (migrating is idempotent)."""
    url = (settings or config.load())["FAREWELL_DATABASE_URL"]
    try:
        engine = db.create_engine(url)
    except (ValueError, ImportError) as error:
        _fail(f"FAREWELL_DATABASE_URL: {error}")
    db.migrate(engine)
    return engine


def _database_errors(command):
    """Turn an unreachable database into one clear line instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except db.UNAVAILABLE_ERRORS as error:
            url = db.redacted(config.load()["FAREWELL_DATABASE_URL"])
            reason = str(getattr(error, "orig", None) or error).splitlines()[0][:300]
            _fail(f"cannot reach the database at {url}: {reason}")

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Farewell sidecar."""
    logs.configure()
    try:
        config.load()  # a misconfiguration is one clear line before any command runs
    except ValueError as error:
        _fail(str(error), code=2)


@main.command()
@_database_errors
def migrate():
    """Create or upgrade the database schema."""
    engine = _engine()
    click.echo(f"database at revision {db.current_revision(engine)}", err=True)


@main.command()
@click.option("--host", default=config.DEFAULT_HOST, show_default=True)
@click.option("--port", default=config.DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--no-jobs", is_flag=True, help="Do not apply events nor send emails from this process (run "
                                            "`python -m jobs` instead).")
@click.option("--demo", is_flag=True, help="A demo in its own data folder: sample data, an accelerated clock and "
                                           "a sample cancellation: watch the mail folder.")
@_database_errors
def serve(host: str, port: int, threads: int, no_jobs: bool, demo: bool):
    """Migrate the database, then serve HTTP with waitress (and run the jobs in one background thread)."""
    import waitress

    from . import create_app

    settings = config.load(demo=demo, served_at=(host, port))
    demo = settings["FAREWELL_DEMO"]
    if demo:
        from .demo import start_afresh

        start_afresh(settings)
    engine = _engine(settings)
    app = create_app(demo=demo, served_at=(host, port))
    started = None
    if demo:
        from .demo import set_up

        started = set_up(engine)
    scheduler = applier = None
    if not no_jobs:
        scheduler = _start_jobs(app.config, engine, demo)
        # The events this process accepts are applied by its own applier thread, woken by each 202.
        from .jobs.applier import Applier

        applier = Applier(engine).start()
        app.extensions["farewell.wake_applier"] = applier.wake
    public_url = app.config["FAREWELL_PUBLIC_URL"]
    click.echo(f"serving on http://{host}:{port}", err=True)
    if config.is_wildcard(host) and public_url == config.served_url(host, port):
        click.echo(f"links in emails point to {public_url}, which works on this machine only: set "
                   f"FAREWELL_PUBLIC_URL to the address your members reach", err=True)
    if started is not None:
        _announce_demo(app.config, started)
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="farewell")
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if applier is not None:
            applier.stop()


def _start_jobs(app_config, engine, demo: bool):
    """The jobs' scheduler in one background thread of this process (never under gunicorn)."""
    from .jobs.runner import Jobs, build_scheduler

    settings = dict(app_config)
    if demo:
        settings["FAREWELL_CLOCK_SPEED"] = config.DEMO_CLOCK_SPEED
    try:
        jobs = Jobs.from_config(settings, engine=engine)
    except ValueError as error:
        _fail(str(error), code=2)
    scheduler = build_scheduler(jobs)
    scheduler.start()
    return scheduler


def _announce_demo(app_config, started) -> None:
    """What the demo did, where its data and emails are, and a one-time sign-in link."""
    from .domain.login_tokens import mint

    site = started.site
    click.echo(f"demo: its own data in {app_config['FAREWELL_DATA_DIR']} (made afresh; your sites are not touched)\n"
               f"demo: {started.history} past cancellations recorded as history, without emails; "
               f"{started.member_id} cancelled just now: their four emails go to {app_config['FAREWELL_MAIL_URL']}, "
               f"on a clock {config.DEMO_CLOCK_SPEED:g}x faster", err=True)
    token = mint(site["secret"], site["id"], 1, "owner@example.org", "Demo owner", site["locale"])
    click.echo(f"demo: open the dashboard within 60 s: {app_config['FAREWELL_PUBLIC_URL']}/admin/login?token={token}\n"
               f"      (a new link any time: FAREWELL_DEMO=1 python -m sidecar dashboard-link)", err=True)


@main.command("dashboard-link")
@click.argument("site_id", required=False)
@click.option("--email", default="owner@example.org", show_default=True, help="Who is signing in.")
@click.option("--name", default="Demo owner", show_default=True)
@click.option("--locale", help="The interface language, e.g. fr_FR (default: the site's).")
@_database_errors
def dashboard_link(site_id, email, name, locale):
    """Demo mode only (FAREWELL_DEMO=1): print a one-time, 60-second sign-in URL for the dashboard
    (of the demo's site unless SITE_ID says), minted with the site's secret exactly as the WordPress
    bridge mints it."""
    from .domain.login_tokens import mint

    settings = config.load()
    if not settings["FAREWELL_DEMO"]:
        _fail("dashboard-link works in demo mode only (FAREWELL_DEMO=1); otherwise sign in from WordPress: "
              "Farewell → Open dashboard", code=2)
    with _engine().connect() as conn:
        site = sites_store.get_site(conn, site_id) if site_id else (sites_store.list_sites(conn) or [None])[0]
    if site is None:
        _fail(f"no site with id {site_id!r}" if site_id else "the demo has no site: start it with "
              "`FAREWELL_DEMO=1 make run`", code=2)
    token = mint(site["secret"], site["id"], 1, email, name, locale or site["locale"])
    click.echo(f"{settings['FAREWELL_PUBLIC_URL']}/admin/login?token={token}")


@main.group()
def sites():
    """Manage the WordPress sites this sidecar serves."""


@sites.command("add")
@click.option("--url", required=True, help="The WordPress site's address.")
@click.option("--name", required=True)
@click.option("--timezone", "timezone_name", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--locale", default="en_US", show_default=True, type=click.Choice(site_domain.SUPPORTED_LOCALES))
@click.option("--if-none", is_flag=True, help="Do nothing when a site exists already (for first-run scripts).")
@_database_errors
def sites_add(url, name, timezone_name, locale, if_none):
    """Add a site; prints {"site_id", "secret"} as JSON."""
    if if_none and config.load()["FAREWELL_DEMO"]:
        # `FAREWELL_DEMO=1 make run`: the demo makes its own site at every start, in its own folder.
        click.echo("demo mode: the demo makes its own site; nothing to add", err=True)
        return
    engine = _engine()
    if if_none:
        with engine.connect() as conn:
            existing = sites_store.list_sites(conn)
        if existing:
            click.echo(f"site {existing[0]['id']} exists already; nothing to add", err=True)
            return
    try:
        settings = config.load()
        site = site_domain.create_site(engine, url, name, timezone_name, locale,
                                       allowed_networks=settings["FAREWELL_BRIDGE_ALLOWED_NETWORKS"],
                                       holdout_percent=settings["FAREWELL_HOLDOUT_PERCENT"])
    except site_domain.SiteError as error:
        _fail(str(error), code=2)
    click.echo(json.dumps({"site_id": site["id"], "secret": site["secret"]}))


@sites.command("set")
@click.argument("site_id")
@click.option("--sender-name", help="The From name of the emails (default: the site's name).")
@click.option("--support-email", help="Reply-To of the members' emails.")
@click.option("--owner-emails", help="Comma-separated addresses alerted when a member asks to be contacted.")
@click.option("--postal-address", help="Shown in every email's footer; use \\n for line breaks.")
@click.option("--offer-text", "default_offer_text", help="The offer for reasons without a tailored one.")
@click.option("--offer-code", "default_offer_code", help="A code to give when WordPress cannot create a coupon.")
@click.option("--news-url", help="The \"what's new\" page, for members who missed a feature.")
@click.option("--discount-percent", help="The one-time renewal discount for price-sensitive members (1-90).")
@click.option("--coupon-days", help="How long that coupon lasts (1-365).")
@click.option("--winback-window-days", help="A comeback this long after a cancellation is a win-back (1-730).")
@click.option("--min-account-age-days", help="No marketing emails to accounts younger than this (0-365).")
@click.option("--max-emails", "max_emails_per_cancellation", help="At most this many emails per cancellation (1-10).")
@click.option("--holdout-percent", help="The share of voluntary cancellations that get the farewell and no "
                                        "follow-up, to measure what the follow-ups bring back (0-50, default 10).")
@_database_errors
def sites_set(site_id, **changes):
    """Change a site's email settings ("" resets one to its default); prints them all as JSON."""
    from .domain.site_settings import SettingsError, update_settings

    if changes.get("postal_address"):
        changes["postal_address"] = changes["postal_address"].replace("\\n", "\n")
    try:
        settings = update_settings(_engine(), site_id, changes)
    except SettingsError as error:
        _fail(str(error), code=2)
    click.echo(json.dumps(settings, ensure_ascii=False))


@sites.command("list")
@_database_errors
def sites_list():
    """One JSON object per line, without secrets."""
    with _engine().connect() as conn:
        for site in sites_store.list_sites(conn):
            click.echo(json.dumps(site_domain.public_view(site)))


@sites.command("rotate-secret")
@click.argument("site_id")
@click.option("--now", "immediately", is_flag=True,
              help="The old secret leaked: stop accepting it at once instead of after 24 hours.")
@_database_errors
def sites_rotate_secret(site_id, immediately):
    """Print a new secret; the old one keeps working for 24 hours (--now: not at all). Every
    dashboard session ends either way."""
    try:
        secret = site_domain.rotate_secret(_engine(), site_id, immediately=immediately)
    except site_domain.SiteError as error:
        _fail(str(error), code=2)
    click.echo(secret)
    if immediately:
        click.echo("the previous secret no longer verifies: the bridge is refused until you paste the new one"
                   " in WordPress; every dashboard session has ended", err=True)
    else:
        click.echo("the previous secret stays valid for 24 hours: update the bridge before then;"
                   " every dashboard session has ended", err=True)


@main.group()
def digest():
    """The owners' weekly digest: preview it, or send it now."""


def _digest_target(site_id: str, week: str | None):
    from datetime import datetime, timezone

    from .domain.digest import IsoWeek, week_of
    from .domain.sequences import member_timezone

    engine = _engine()
    with engine.connect() as conn:
        site = sites_store.get_site(conn, site_id)
    if site is None:
        _fail(f"no site with id {site_id!r}", code=2)
    now = datetime.now(timezone.utc)
    try:
        chosen = IsoWeek.parse(week) if week else week_of(now, member_timezone(site)).previous()
    except ValueError as error:
        _fail(str(error), code=2)
    return engine, site, chosen, now


@digest.command("preview")
@click.option("--site", "site_id", required=True)
@click.option("--week", help="ISO week, e.g. 2026-W48 (default: last full week in the site's time zone).")
@click.option("--text", "as_text", is_flag=True, help="Print the text/plain version instead of HTML.")
@_database_errors
def digest_preview(site_id, week, as_text):
    """Print the digest as HTML (the chart embedded as a data: URI so a browser shows it)."""
    from .domain.digest import browser_preview, mail_config

    engine, site, chosen, now = _digest_target(site_id, week)
    with engine.connect() as conn:
        rendered = browser_preview(conn, site, chosen, now, mail_config(config.load()))
    click.echo(rendered.text if as_text else rendered.html, nl=False)


@digest.command("send")
@click.option("--site", "site_id", required=True)
@click.option("--week", help="ISO week, e.g. 2026-W48 (default: last full week in the site's time zone).")
@click.option("--to", "to", multiple=True, help="Send a copy to this address only (repeatable); the scheduled "
                                                "digest is left alone.")
@_database_errors
def digest_send(site_id, week, to):
    """Send the digest now: to the site's recipients (once per week, like the jobs), or a copy --to someone."""
    from .domain.digest import mail_config, send_digest
    from .mail.transports import transport_from_url

    engine, site, chosen, now = _digest_target(site_id, week)
    settings = config.load()
    try:
        transport = transport_from_url(settings["FAREWELL_MAIL_URL"], settings["FAREWELL_BRIDGE_ALLOWED_NETWORKS"])
    except ValueError as error:
        _fail(str(error), code=2)
    result = send_digest(engine, transport, site_id, chosen, recipients=list(to) or None, now=now,
                         mail=mail_config(settings))
    click.echo(json.dumps({"site_id": result.site_id, "week": result.week, "status": result.status,
                           "recipients": list(result.recipients), "detail": result.detail}))
    if result.status not in ("sent",):
        sys.exit(1)


@main.group()
def events():
    """Events the bridges sent: re-apply those whose apply was parked."""


@events.command("reapply")
@click.option("--site", "site_id", help="Only this site's events (default: every site's).")
@click.option("--since", help="Only events received at or after this moment (RFC 3339, e.g. 2026-12-01T00:00:00Z).")
@_database_errors
def events_reapply(site_id, since):
    """Try the parked events again now (after a fix), each exactly once; prints what happened as JSON."""
    from .domain.applier import reapply
    from .domain.events import parse_timestamp

    try:
        since_at = parse_timestamp(since) if since else None
    except ValueError as error:
        _fail(f"--since {error}", code=2)
    unparked, report = reapply(_engine(), site_id, since_at)
    click.echo(json.dumps({"unparked": unparked, "applied": report.applied, "parked_again": report.parked,
                           "retrying": report.retrying}))
    if report.parked or report.retrying:
        sys.exit(1)
