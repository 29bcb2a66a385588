"""Every call the sidecar makes to a site refuses a destination that is not public (SSRF through the
site's URL, which whoever holds the dashboard sets), and says so without network detail.

The ways out are enumerated: ``PATHS`` below is every caller of ``bridge.call``, each tried against a
real local server that must see nothing; ``test_nothing_else_in_the_sidecar_opens_connections``
fails when a new module calls ``bridge.call`` or opens HTTP connections another way, so a new path
cannot be forgotten here."""

from __future__ import annotations

import ast
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sidecar import bridge, create_app, db
from sidecar.domain import offers
from sidecar.domain.login_tokens import mint
from sidecar.domain.sites import create_site, new_secret
from sidecar.mail import message as mime
from sidecar.mail.render import Rendered
from sidecar.mail.transports import TransportUnavailable, transport_from_url
from tests.support.dashboard import csrf_token
from tests.support.net import LOOPBACK_ALLOWED
from tests.support.recording_site import Site

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 29, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def target():
    """What an attacker points the site's URL at: a real server on 127.0.0.1, recording every request."""
    with Site() as server:
        yield server


def private_urls(port: int) -> list[str]:
    # A literal loopback address, a name that resolves to it, and a shorthand the resolver reads as it.
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://127.1:{port}"]


def outgoing(site: dict) -> mime.Outgoing:
    rendered = Rendered(subject="Un mot", text="Bonjour,\n", html="<p>Bonjour,</p>")
    message_id = "<farewell.site_ssrf.1@club.example.org>"
    message = mime.build(rendered, sender=mime.address("farewell@club.example.org", "Le Club"),
                         to=[mime.address("ana@example.org")], message_id=message_id, date=NOW)
    return mime.Outgoing(message=message, sender="farewell@club.example.org", recipients=("ana@example.org",),
                         site=site, message_id=message_id)


def send_mail(site: dict) -> None:
    """wordpress:// mail, as the jobs and the dashboard's test build it from FAREWELL_MAIL_URL."""
    with transport_from_url("wordpress://").session() as session:
        try:
            session.send(outgoing(site))
        except TransportUnavailable as error:
            assert str(error) == bridge.UNREACHABLE  # no network detail in what is stored on the email
            raise


def make_coupon(site: dict) -> None:
    body = offers.coupon_request({"external_id": "42", "email": "ana@example.org"},
                                 {"external_id": "sub_7", "source": "memberpress", "plan_id": "3"}, 20, 14, NOW)
    if offers.create_coupon(site, body, "coupon_site_ssrf_1") is None:
        raise TransportUnavailable("no coupon")  # the offer falls back to the site's code


# Every module that calls bridge.call, and how each is tried here.
PATHS = {
    "sidecar/mail/transports.py": send_mail,
    "sidecar/domain/offers.py": make_coupon,
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_every_call_to_a_bridge_refuses_a_private_destination(target, path):
    for url in private_urls(target.port):
        site = {"id": "site_ssrf", "url": url, "secret": new_secret(), "name": "Le Club"}
        with pytest.raises(TransportUnavailable):
            PATHS[path](site)
    assert target.requests == [], f"{path} reached {target.requests}"


@pytest.mark.parametrize("route", ["mail", "coupons", "privacy/erase", "anything"])
def test_bridge_call_itself_refuses_a_private_destination_on_every_route(target, route):
    for url in private_urls(target.port) + ["http://169.254.169.254", "http://[::1]:9", "http://0.0.0.0:9"]:
        with pytest.raises(bridge.BridgeUnavailable) as unavailable:
            bridge.call({"id": "site_ssrf", "url": url, "secret": new_secret()}, route, {}, "wh_ssrf", timeout=2)
        assert str(unavailable.value) == bridge.UNREACHABLE
    assert target.requests == []


def test_nothing_else_in_the_sidecar_opens_connections():
    """Only sidecar/safe_http.py opens HTTP connections (bridge.py imports requests for its
    exceptions), only the SMTP transport opens sockets of its own (to the operator's mail server,
    not a site), and only the modules of PATHS call bridge.call."""
    http_modules = {"requests", "urllib3", "http.client", "urllib.request", "httpx", "aiohttp", "pycurl"}
    allowed_http = {"sidecar/safe_http.py", "sidecar/bridge.py"}
    allowed_sockets = {"sidecar/safe_http.py", "sidecar/mail/transports.py"}
    callers, http_importers, socket_openers = set(), set(), set()
    for file in sorted([*(ROOT / "sidecar").rglob("*.py"), *(ROOT / "jobs").rglob("*.py")]):
        name = file.relative_to(ROOT).as_posix()
        tree = ast.parse(file.read_text(), name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported = {node.module or ""} | {f"{node.module}.{alias.name}" for alias in node.names}
                if node.module and node.module.endswith("bridge") and any(a.name == "call" for a in node.names):
                    callers.add(name)
            else:
                imported = set()
            if any(module == m or module.startswith(m + ".") for module in imported for m in http_modules):
                http_importers.add(name)
            if isinstance(node, ast.Attribute):
                if node.attr == "call" and isinstance(node.value, ast.Name) and node.value.id == "bridge" \
                        and name != "sidecar/bridge.py":
                    callers.add(name)
                if node.attr in ("create_connection", "socket", "SMTP", "SMTP_SSL") \
                        and isinstance(node.value, ast.Name) and node.value.id in ("socket", "smtplib"):
                    socket_openers.add(name)
    assert callers == set(PATHS), "a new caller of bridge.call: add it to PATHS"
    assert http_importers <= allowed_http, f"HTTP without the guard in {sorted(http_importers - allowed_http)}"
    assert socket_openers <= allowed_sockets, f"sockets opened in {sorted(socket_openers - allowed_sockets)}"


# --- the dashboard: where the URL is set, and "send me a test" ------------------------------------

@pytest.fixture
def dashboard(tmp_path):
    """A sidecar whose mail goes through WordPress (wordpress://), signed in as the site's admin."""
    url = f"sqlite:///{tmp_path / 'farewell.db'}"
    db.migrate(db.create_engine(url))

    def make(**env):
        app = create_app({"FAREWELL_DATABASE_URL": url, "FAREWELL_DATA_DIR": str(tmp_path / "data"),
                          "FAREWELL_SECRET_KEY": "test-secret-key-24-chars", "FAREWELL_MAIL_URL": "wordpress://",
                          "FAREWELL_MAIL_FROM": "farewell@club.example.org", **env})
        app.config["TESTING"] = True
        engine = app.extensions["farewell.engine"]
        site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
        client = app.test_client()
        token = mint(site["secret"], site["id"], 1, "owner@club.example.org", "Owner", "fr_FR")
        assert client.get("/admin/login", query_string={"token": token}).status_code == 303
        return app, engine, site, client

    return make


def settings_form(client, url: str) -> dict:
    return {"csrf_token": csrf_token(client, "/admin/settings"), "name": "Le Club", "url": url,
            "timezone": "Europe/Paris", "locale": "fr_FR", "support_email": "", "postal_address": "",
            "default_offer_text": "", "default_offer_code": "", "sender_name": "", "owner_emails": ""}


def site_url(engine, site_id: str) -> str:
    from sidecar.storage.sites import get_site

    with engine.connect() as conn:
        return get_site(conn, site_id)["url"]


@pytest.mark.parametrize("url, said", [
    ("http://127.0.0.1:8080", "adresse locale ou d’un réseau privé"),
    ("http://169.254.169.254/latest/meta-data/", "adresse locale ou d’un réseau privé"),
    ("http://[::1]/", "adresse locale ou d’un réseau privé"),
    ("http://owner:hunter2@club.example.org", "sans nom d’utilisateur ni mot de passe"),
    ("gopher://club.example.org:25/", "une adresse http:// ou https://"),
])
def test_the_dashboard_refuses_such_a_site_url_in_the_admins_language(dashboard, url, said):
    app, engine, site, client = dashboard()
    assert client.post("/admin/settings", data=settings_form(client, url)).status_code == 303
    assert said in client.get("/admin/settings").text
    assert site_url(engine, site["id"]) == "https://club.example.org"


def test_an_operator_allowed_network_may_be_entered(dashboard):
    app, engine, site, client = dashboard(FAREWELL_BRIDGE_ALLOWED_NETWORKS="10.0.0.0/8")
    assert client.post("/admin/settings", data=settings_form(client, "http://10.0.0.5:8080")).status_code == 303
    assert site_url(engine, site["id"]) == "http://10.0.0.5:8080"


def flashed_error(client) -> str:
    page = client.get("/admin/sequence/farewell").text
    found = re.search(r'class="notice error"[^>]*>(.*?)<', page, re.S)
    assert found, page
    return found.group(1).strip()


def test_send_me_a_test_says_one_thing_whatever_stopped_it(dashboard, target):
    """The URL is set on this very dashboard, by a name that resolves to loopback (accepted where
    entered: names resolve anywhere). Sending a test reaches nothing, and the message is the same as
    for a closed port or a TLS error, so the dashboard cannot be used to probe ports."""
    app, engine, site, client = dashboard()
    assert client.post("/admin/settings", data=settings_form(client, f"http://localhost:{target.port}")).status_code == 303
    assert site_url(engine, site["id"]) == f"http://localhost:{target.port}"

    def test_send() -> str:
        token = csrf_token(client, "/admin/sequence/farewell")
        assert client.post("/admin/sequence/farewell/test", data={"csrf_token": token, "lang": "fr"}).status_code == 303
        return flashed_error(client)

    refused = test_send()
    assert target.requests == []
    assert refused == "Le test n’a pas pu être envoyé : le site WordPress est injoignable."

    # The same words where the operator allowed loopback and the port is closed, or speaks no TLS.
    allowed_app, allowed_engine, allowed_site, allowed_client = dashboard(FAREWELL_BRIDGE_ALLOWED_NETWORKS=LOOPBACK_ALLOWED)
    client = allowed_client
    closed = Site()
    closed.server.server_close()
    said = []
    for url in (f"http://127.0.0.1:{closed.port}", f"https://127.0.0.1:{target.port}"):
        assert client.post("/admin/settings", data=settings_form(client, url)).status_code == 303
        said.append(test_send())
    assert said == [refused, refused]
    assert str(target.port) not in refused and "refused" not in refused.lower()
