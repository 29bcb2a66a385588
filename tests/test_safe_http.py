"""The sidecar calls a site's address only if it is public, or inside a network the operator allowed
(sidecar/safe_http.py, FAREWELL_BRIDGE_ALLOWED_NETWORKS): the rule for one address, the rule where a
URL is entered, and real connections to real local servers, checked after DNS and without following
redirects. Every path that reaches the bridge is checked in tests/security/test_bridge_destinations.py."""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import subprocess

import pytest
import requests

from sidecar import bridge, config, safe_http
from sidecar.domain.sites import new_secret, url_problem
from tests.support.net import LOOPBACK_NETWORKS
from tests.support.recording_site import Site

ip = ipaddress.ip_address


# --- the rule for one address -------------------------------------------------------------------

REFUSED = [
    "127.0.0.1", "127.255.255.254",           # loopback
    "10.0.0.1", "172.16.5.4", "192.168.1.1",  # private (RFC 1918)
    "169.254.169.254",                        # link-local: the cloud's metadata service
    "100.64.0.1",                             # carrier-grade NAT (RFC 6598)
    "0.0.0.0", "0.1.2.3",                     # "this host"
    "255.255.255.255", "240.0.0.1",           # broadcast, reserved
    "224.0.0.1", "239.255.255.250",           # multicast
    "192.0.2.1", "198.18.0.1",                # documentation, benchmarking
    "::1", "::",                              # IPv6 loopback, unspecified
    "fe80::1", "fc00::1", "fd00:ec2::254",    # link-local, unique local (AWS's IPv6 metadata)
    "ff02::1", "ff0e::1",                     # multicast, even "global" scope
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",  # IPv4-mapped
    "::127.0.0.1",                            # IPv4-compatible (deprecated)
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",  # NAT64 of 127.0.0.1 and 169.254.169.254
    "2002:7f00:1::1", "2002:a00:1::1",        # 6to4 of 127.0.0.1 and 10.0.0.1
    "2001::1",                                # Teredo
    "fec0::1",                                # site-local (deprecated)
    "2001:db8::1",                            # documentation
]
ACCEPTED = ["1.1.1.1", "8.8.8.8", "93.184.215.14", "2606:4700::1111", "2a00:1450:4007::64",
            "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]


@pytest.mark.parametrize("address", REFUSED)
def test_a_non_public_address_is_refused(address):
    assert safe_http.refusal(ip(address)) is not None


@pytest.mark.parametrize("address", ACCEPTED)
def test_a_public_address_is_accepted(address):
    assert safe_http.refusal(ip(address)) is None


def test_the_operator_allows_networks_of_their_own_and_nothing_more():
    allowed = config.bridge_allowed_networks("10.0.0.0/8, 192.168.1.20, fd12:3456::/48")
    for address in ("10.1.2.3", "::ffff:10.1.2.3", "192.168.1.20", "fd12:3456::7", "64:ff9b::a01:203"):
        assert safe_http.refusal(ip(address), allowed) is None, address
    for address in ("192.168.1.21", "127.0.0.1", "169.254.169.254", "fd12:3457::7", "172.16.0.1"):
        assert safe_http.refusal(ip(address), allowed) is not None, address
    # 0.0.0.0 and :: reach this very host, and multicast is no web server: even "allow everything" keeps them out.
    everything = config.bridge_allowed_networks("0.0.0.0/0,::/0")
    assert safe_http.refusal(ip("10.9.9.9"), everything) is None
    for address in ("0.0.0.0", "::", "224.0.0.1", "ff02::1"):
        assert safe_http.refusal(ip(address), everything) is not None, address


def test_the_setting_is_read_once_and_a_typo_is_one_clear_error(tmp_path):
    assert config.load({"FAREWELL_DATA_DIR": str(tmp_path)})["FAREWELL_BRIDGE_ALLOWED_NETWORKS"] == ()
    loaded = config.load({"FAREWELL_DATA_DIR": str(tmp_path),
                          "FAREWELL_BRIDGE_ALLOWED_NETWORKS": " 10.0.0.0/8 ,, 192.168.1.0/24 "})
    assert loaded["FAREWELL_BRIDGE_ALLOWED_NETWORKS"] == (ipaddress.ip_network("10.0.0.0/8"),
                                                          ipaddress.ip_network("192.168.1.0/24"))
    with pytest.raises(ValueError, match="FAREWELL_BRIDGE_ALLOWED_NETWORKS: '10.0.0.0/33'"):
        config.load({"FAREWELL_DATA_DIR": str(tmp_path), "FAREWELL_BRIDGE_ALLOWED_NETWORKS": "10.0.0.0/33"})


# --- where a site's URL is entered --------------------------------------------------------------

@pytest.mark.parametrize("url, problem", [
    ("https://club.example.org", None),
    ("http://club.example.org:8080/wordpress", None),
    ("HTTPS://Club.Example.org", None),
    ("http://localhost:8080", None),          # a name: checked when connecting, since names resolve anywhere
    ("https://8.8.8.8", None),
    ("ftp://club.example.org", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://127.0.0.1:25/", "scheme"),
    ("club.example.org", "scheme"),
    ("https://" + "a" * 500 + ".org", "scheme"),
    ("https://owner:hunter2@club.example.org", "credentials"),
    ("https://owner@club.example.org", "credentials"),
    ("http://", "host"),
    ("http://club.example.org:99999", "host"),
    ("http://127.0.0.1:8080", "private"),
    ("http://169.254.169.254/latest/meta-data/", "private"),
    ("http://[::1]:8080", "private"),
    ("http://[::ffff:127.0.0.1]/", "private"),
    ("http://0.0.0.0:8000", "private"),
    ("http://100.64.0.1", "private"),
    ("http://2130706433/", "private"),        # 127.0.0.1 written as one number
    ("http://127.1/", "private"),
    ("http://0x7f.0.0.1/", "private"),
])
def test_a_site_url_is_checked_where_it_is_entered(url, problem):
    assert url_problem(url) == problem


def test_an_allowed_network_may_be_entered_literally():
    assert url_problem("http://10.0.0.5:8080", config.bridge_allowed_networks("10.0.0.0/8")) is None
    assert url_problem("http://10.0.0.5:8080", config.bridge_allowed_networks("192.168.0.0/16")) == "private"


# --- real connections ---------------------------------------------------------------------------

@pytest.fixture
def local_site():
    with Site() as server:
        yield server


def refused_destination(error: BaseException) -> bool:
    """Whether a requests error was our refusal, wherever requests and urllib3 wrapped it."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, safe_http.DestinationRefused):
            return True
        error = getattr(error, "reason", None) or (error.args[0] if error.args and isinstance(error.args[0], BaseException) else None)
    return False


def test_a_local_server_is_refused_by_default_and_reached_once_allowed(local_site):
    with safe_http.session() as http, pytest.raises(requests.ConnectionError) as refused:
        http.get(local_site.url(), timeout=5)
    assert refused_destination(refused.value)
    assert local_site.requests == [], "refused before anything was sent"

    with safe_http.session(LOOPBACK_NETWORKS) as http:
        assert http.get(local_site.url() + "/ok", timeout=5).status_code == 200
    assert local_site.requests == [("GET", "/ok")]


def test_a_name_that_resolves_to_a_local_address_is_refused_when_connecting(local_site):
    # Accepted where it is entered (a name could point anywhere): the connection is the real guard.
    assert url_problem(local_site.url("localhost")) is None
    with safe_http.session() as http, pytest.raises(requests.ConnectionError) as refused:
        http.get(local_site.url("localhost"), timeout=5)
    assert refused_destination(refused.value)
    assert "localhost is 127.0.0.1, a loopback address" in str(refused.value)
    assert local_site.requests == []
    with safe_http.session(LOOPBACK_NETWORKS) as http:
        assert http.get(local_site.url("localhost"), timeout=5).status_code == 200


@pytest.fixture
def rebinding_name(monkeypatch):
    """A name whose DNS answer changes after the first lookup, as a rebinding attacker's server
    answers: first 127.0.0.2 (which the test allows), then 127.0.0.1 (which it does not). No DNS
    server can be run for the system resolver here, so this stands in for one, in front of the
    real resolver."""
    real = socket.getaddrinfo
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "rebind.test":
            lookups.append(host)
            host = "127.0.0.2" if len(lookups) == 1 else "127.0.0.1"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def test_the_address_checked_is_the_address_connected_to(rebinding_name):
    # Only 127.0.0.2 is allowed, and only it has a server. Were the name resolved once to check and
    # again to connect, the first request would go to 127.0.0.1 and fail.
    with Site("127.0.0.2") as allowed_site, safe_http.session(config.bridge_allowed_networks("127.0.0.2")) as http:
        answer = http.get(f"http://rebind.test:{allowed_site.port}/first", timeout=5)
        assert answer.status_code == 200 and rebinding_name == ["rebind.test"], "one lookup, checked and used"
        # The server closes each connection (HTTP/1.0): a new connection, a new lookup, checked again.
        with pytest.raises(requests.ConnectionError) as refused:
            http.get(f"http://rebind.test:{allowed_site.port}/second", timeout=5)
        assert refused_destination(refused.value) and len(rebinding_name) == 2
    assert allowed_site.requests == [("GET", "/first")]


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch, local_site):
    # The attacker controls the order of the answers too: every address is checked before any connection.
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "mixed.test":
            return real("8.8.8.8", port, *args, **kwargs) + real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with safe_http.session() as http, pytest.raises(requests.ConnectionError) as refused:
        http.get(f"http://mixed.test:{local_site.port}/", timeout=5)
    assert refused_destination(refused.value) and local_site.requests == []


def test_environment_proxies_are_not_used(local_site, monkeypatch):
    # Through a proxy the check would be made on the proxy's address, not the site's.
    monkeypatch.setenv("HTTP_PROXY", local_site.url())
    monkeypatch.setenv("http_proxy", local_site.url())
    with safe_http.session() as http, pytest.raises(requests.ConnectionError) as refused:
        http.get("http://169.254.169.254/latest/meta-data/", timeout=5)
    assert refused_destination(refused.value)
    assert local_site.requests == [], "the request went to the proxy"
    with safe_http.session() as http, pytest.raises(requests.exceptions.InvalidProxyURL):
        http.get("http://8.8.8.8/", proxies={"http": local_site.url()}, timeout=5)


def site_at(url: str) -> dict:
    return {"id": "site_ssrf", "url": url, "secret": new_secret()}


def test_a_redirect_is_a_failure_and_is_never_followed(local_site):
    """Even to a destination the operator allowed: the bridge never redirects, so a 3xx is not the bridge."""
    with Site() as target:
        local_site.status, local_site.headers = 307, {"Location": target.url() + "/latest/meta-data/"}
        with pytest.raises(bridge.BridgeRefused) as refused:
            bridge.call(site_at(local_site.url()), "mail", {"x": 1}, "wh_redirect", allowed_networks=LOOPBACK_NETWORKS)
        assert refused.value.status == 307 and not refused.value.temporary
        assert len(local_site.requests) == 1 and target.requests == [], "the redirect was followed"


class Silent:
    """A port that accepts connections and never answers."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]

    def close(self):
        self.socket.close()


def test_every_way_of_not_reaching_the_site_says_the_same(local_site, caplog):
    """Refused destination, closed port, TLS error, silence: one sentence for whoever set the URL;
    the detail in the server's log for whoever runs the server."""
    silent = Silent()
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    failures = {
        "refused destination": (local_site.url(), ()),
        "connection refused": (f"http://127.0.0.1:{closed_port}", LOOPBACK_NETWORKS),
        "TLS error": (f"https://127.0.0.1:{local_site.port}", LOOPBACK_NETWORKS),
        "timeout": (f"http://127.0.0.1:{silent.port}", LOOPBACK_NETWORKS),
        "no such name": ("http://no-such-host.invalid", ()),
    }
    said = {}
    try:
        with caplog.at_level(logging.WARNING, logger="sidecar.bridge"):
            for kind, (url, allowed) in failures.items():
                with pytest.raises(bridge.BridgeUnavailable) as unavailable:
                    bridge.call(site_at(url), "mail", {"x": 1}, "wh_" + kind.replace(" ", "_"), timeout=1,
                                allowed_networks=allowed)
                said[kind] = str(unavailable.value)
    finally:
        silent.close()
    assert set(said.values()) == {bridge.UNREACHABLE}, said
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == len(failures) and len(set(logged)) == len(failures), "the log tells them apart"
    assert "loopback address: refused" in logged[0]
    assert local_site.requests == []


@pytest.fixture(scope="module")
def localhost_certificate(tmp_path_factory):
    """A self-signed certificate for the name "localhost" only (not for 127.0.0.1)."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True, timeout=60)
    return folder / "cert.pem", folder / "key.pem"


def test_tls_still_checks_the_certificate_against_the_name_in_the_url(localhost_certificate):
    """The connection goes to the address that was checked, and TLS verifies the URL's host name
    (and sends it as SNI), not that address."""
    cert, key = localhost_certificate
    names = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    with Site() as site:
        site.server.socket = context.wrap_socket(site.server.socket, server_side=True)
        with safe_http.session(LOOPBACK_NETWORKS) as http:
            http.verify = str(cert)
            answer = http.get(f"https://localhost:{site.port}/tls", timeout=5)
            assert answer.status_code == 200 and names[-1] == "localhost"
            with pytest.raises(requests.exceptions.SSLError):  # the same server, named by its address
                http.get(f"https://127.0.0.1:{site.port}/tls", timeout=5)
        with safe_http.session() as http, pytest.raises(requests.ConnectionError) as refused:
            http.verify = str(cert)
            http.get(f"https://localhost:{site.port}/tls", timeout=5)
        assert refused_destination(refused.value)
    assert site.requests == [("GET", "/tls")]


def test_only_a_guarded_session_may_carry_a_bridge_call(local_site):
    with requests.Session() as plain, pytest.raises(TypeError):
        bridge.call(site_at(local_site.url()), "mail", {"x": 1}, "wh_plain", http=plain)
    with safe_http.session() as http:
        http.mount("http://127.0.0.1", requests.adapters.HTTPAdapter())
        with pytest.raises(bridge.BridgeUnavailable):
            bridge.call(site_at(local_site.url()), "mail", {"x": 1}, "wh_mounted", http=http)
    assert local_site.requests == []
