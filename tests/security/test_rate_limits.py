"""The public endpoints are rate limited per client address, with one count shared by every web
process (the database), without ever storing an address, and without ever losing an unsubscribe."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

from sidecar import db
from sidecar.domain import rate_limits
from sidecar.domain.login_tokens import mint
from sidecar.domain.rate_limits import LOGIN, UNSUBSCRIBE
from sidecar.storage.rate_limits import count_hit, hits_by_bucket, prune_rate_limits
from sidecar.storage.tables import rate_limit_hits, scheduled_emails
from tests.security.conftest import wait_for_a_fresh_window

T0 = datetime(2026, 11, 29, 10, 0, 0, tzinfo=timezone.utc)


# --- the store ---------------------------------------------------------------------------------

def test_hits_are_counted_per_bucket_and_window(engine):
    minute = timedelta(minutes=1)
    with engine.begin() as conn:
        assert [count_hit(conn, "unsubscribe:a", T0) for _ in range(3)] == [1, 2, 3]
        assert count_hit(conn, "unsubscribe:b", T0) == 1
        assert count_hit(conn, "unsubscribe:a", T0 + minute) == 1
    with engine.connect() as conn:
        assert hits_by_bucket(conn, "unsubscribe:") == {"unsubscribe:a": 4, "unsubscribe:b": 1}


def test_old_windows_are_pruned_and_current_ones_kept(engine):
    with engine.begin() as conn:
        for minutes_ago in (120, 61, 0):
            count_hit(conn, "login:x", T0 - timedelta(minutes=minutes_ago))
        assert prune_rate_limits(conn, T0 - timedelta(hours=1)) == 2
        assert [row.window_start for row in conn.execute(sa.select(rate_limit_hits))] == [T0]


def test_the_limit_allows_its_hits_then_refuses_until_the_window_ends(engine):
    verdicts = [rate_limits.hit(engine, "key", LOGIN, "203.0.113.7", T0 + timedelta(seconds=15))
                for _ in range(LOGIN.hits + 1)]
    assert all(v.allowed for v in verdicts[:-1]) and not verdicts[-1].allowed
    assert verdicts[-1].retry_after == 45
    assert rate_limits.hit(engine, "key", LOGIN, "203.0.113.8", T0 + timedelta(seconds=15)).allowed  # someone else
    assert rate_limits.hit(engine, "key", LOGIN, "203.0.113.7", T0 + timedelta(seconds=60)).allowed  # next window


def test_no_client_address_is_stored_only_a_keyed_hash(engine):
    rate_limits.hit(engine, "key", UNSUBSCRIBE, "203.0.113.7", T0)
    rate_limits.hit(engine, "another key", UNSUBSCRIBE, "203.0.113.7", T0)
    with engine.connect() as conn:
        buckets = list(hits_by_bucket(conn))
    assert len(buckets) == 2  # the key changes the hash: it cannot be rebuilt from the address alone
    assert all(b.startswith("unsubscribe:") and "203.0.113" not in b and len(b) <= 100 for b in buckets)


def test_a_first_hit_prunes_windows_older_than_an_hour(engine):
    rate_limits.hit(engine, "key", LOGIN, "203.0.113.7", T0 - timedelta(hours=2))
    rate_limits.hit(engine, "key", LOGIN, "203.0.113.9", T0)
    with engine.connect() as conn:
        assert [row.window_start for row in conn.execute(sa.select(rate_limit_hits))] == [T0]


# --- the endpoints -----------------------------------------------------------------------------

def _from(address: str, **headers) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}, "headers": headers}


def test_unsubscribe_pages_are_limited_per_address_with_a_polite_page(client, member_link):
    path, _ = member_link
    wait_for_a_fresh_window()
    for _ in range(UNSUBSCRIBE.hits):
        assert client.get(path, **_from("198.51.100.1")).status_code == 200
    refused = client.get(path, **_from("198.51.100.1", **{"Accept-Language": "fr-FR,fr;q=0.9"}))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.mimetype == "text/html" and "Réessayez dans une minute" in refused.text
    assert "Location" not in refused.headers
    english = client.get(path, **_from("198.51.100.1", **{"Accept-Language": "en-GB"}))
    assert english.status_code == 429 and "try again in a minute" in english.text
    assert client.get(path, **_from("198.51.100.2")).status_code == 200  # a neighbour is not blocked
    assert client.get("/u/guessing", **_from("198.51.100.1")).status_code == 429  # guesses are limited too


def test_a_one_click_unsubscribe_over_the_limit_is_still_honoured(client, member_link, app, site):
    """RFC 8058 POSTs come from the mailbox provider's few addresses: after a send, many members
    unsubscribing at once look like one busy client. A genuine link is never refused; forged or
    garbled ones are."""
    path, member_id = member_link
    provider = _from("192.0.2.25")
    wait_for_a_fresh_window()
    for n in range(UNSUBSCRIBE.hits + 5):
        assert client.post(f"/u/forged-{n}", **provider).status_code in (404, 429)
    assert client.post("/u/forged-again", **provider).status_code == 429
    done = client.post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded",
                       **provider)
    assert done.status_code == 200 and "Location" not in done.headers
    with app.extensions["farewell.engine"].connect() as conn:
        statuses = set(conn.execute(sa.select(scheduled_emails.c.status)
                                    .where(scheduled_emails.c.member_id == member_id)).scalars())
    assert statuses == {"cancelled"}
    assert client.get(path, **_from("192.0.2.99")).text.count("<button") == 0  # the page now says it is done


def test_dashboard_sign_in_links_are_limited_per_address(client, site):
    wait_for_a_fresh_window()
    for _ in range(LOGIN.hits):
        assert client.get("/admin/login?token=guess", **_from("198.51.100.7")).status_code == 403
    token = mint(site["secret"], site["id"], 1, "owner@example.org", "Owner", "fr_FR")
    refused = client.get("/admin/login", query_string={"token": token}, **_from("198.51.100.7"))
    assert refused.status_code == 429 and "Attendez une minute" in refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.get("/admin/login", query_string={"token": token}, **_from("198.51.100.8")).status_code == 303


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(db_url, tmp_path):
    from sidecar import create_app

    app = create_app({"FAREWELL_DATABASE_URL": db_url, "FAREWELL_DATA_DIR": str(tmp_path / "d"),
                      "FAREWELL_SECRET_KEY": "test-secret-key-24-chars", "FAREWELL_TRUSTED_PROXIES": "1"})
    client = app.test_client()
    wait_for_a_fresh_window()
    proxy = {"REMOTE_ADDR": "10.0.0.1"}  # every request arrives from the proxy
    for _ in range(LOGIN.hits):
        client.get("/admin/login?token=x", environ_base=proxy, headers={"X-Forwarded-For": "203.0.113.1"})
    assert client.get("/admin/login?token=x", environ_base=proxy,
                      headers={"X-Forwarded-For": "203.0.113.1"}).status_code == 429
    assert client.get("/admin/login?token=x", environ_base=proxy,
                      headers={"X-Forwarded-For": "203.0.113.2"}).status_code == 403
    app.extensions["farewell.engine"].dispose()


# --- shared by every process -------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_two_server_processes_share_one_count(backend, sidecar_server, request, tmp_path):
    database_url = (request.getfixturevalue("fresh_mariadb_url") if backend == "mariadb"
                    else f"sqlite:///{tmp_path / 'shared.db'}")
    # Every process of an installation shares FAREWELL_SECRET_KEY (links depend on it, and so do the buckets).
    shared = {"FAREWELL_SECRET_KEY": "one key for every process"}
    first = sidecar_server(database_url=database_url, extra_env=shared)
    second = sidecar_server(database_url=database_url, extra_env=shared)
    wait_for_a_fresh_window()
    with requests.Session() as http:
        answers = [http.get(f"{server.url}/u/not-a-link", timeout=10).status_code
                   for server in (first, second) * (UNSUBSCRIBE.hits // 2)]
        assert answers == [404] * UNSUBSCRIBE.hits
        over = [http.get(f"{server.url}/u/not-a-link", timeout=10) for server in (first, second)]
    assert [r.status_code for r in over] == [429, 429]
    engine = db.create_engine(database_url)
    with engine.connect() as conn:
        assert list(hits_by_bucket(conn, "unsubscribe:").values()) == [UNSUBSCRIBE.hits + 2]
    engine.dispose()
