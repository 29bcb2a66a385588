"""Clock trouble: WordPress and the sidecar with clocks apart, for real.

The sidecar runs on a shifted clock with libfaketime (Debian's `faketime`, preloaded into the
`python -m sidecar serve` process); WordPress keeps the machine's clock. 4 minutes apart is inside
the ±300 s window and delivers; 6 minutes apart is refused, the admin panel and the Test
connection button say the clocks differ (not "wrong secret"), nothing is marked dead, and the
events go out once the sidecar's clock is right again.
"""

from __future__ import annotations

import glob
import html
import os
import re
import subprocess
import sys
from email.utils import parsedate_to_datetime

import pytest
import requests

from sidecar.signing import InvalidSignature, sign, verify
from tests.support.wordpress import assert_no_php_errors, bridge_constants, outbox
from tests.wordpress.site import ADMIN_PASSWORD, ADMIN_USER


def faketime_env(offset_seconds: int) -> dict:
    """Environment that shifts a process's wall clock by the offset (monotonic clocks untouched)."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        pytest.fail("libfaketime is missing: run scripts/install-test-deps (Debian package faketime)")
    return {"LD_PRELOAD": found[0], "FAKETIME": f"{offset_seconds:+d}s", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def clock_of(command: list[str], env: dict) -> int:
    return int(float(subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True,
                                    check=True, timeout=30).stdout))


def test_libfaketime_shifts_both_phps_time_and_pythons_time_time():
    env = faketime_env(-362)
    real = clock_of([sys.executable, "-c", "import time; print(time.time())"], {})
    assert abs(clock_of(["php", "-r", "echo time();"], env) - (real - 362)) <= 5
    assert abs(clock_of([sys.executable, "-c", "import time; print(time.time())"], env) - (real - 362)) <= 5


def test_the_sidecar_says_a_genuine_request_out_of_the_window_is_a_clock_skew():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    from datetime import datetime, timedelta, timezone

    headers = sign(secret, "msg_clock", "{}", datetime.now(timezone.utc) - timedelta(seconds=362))
    with pytest.raises(InvalidSignature) as refused:
        verify([secret], "{}", headers)
    details = refused.value.details
    assert details["reason"] == "clock_skew"
    assert details["clock_skew_seconds"] in range(-364, -361)
    assert details["tolerance_seconds"] == 300
    assert re.fullmatch(r"the sender's clock is 6 min [234] s behind the sidecar's; check NTP on both servers",
                        details["message"]), details["message"]

    # A forged signature learns nothing about the clocks: the plain refusal.
    headers["webhook-signature"] = "v1," + "A" * 44
    with pytest.raises(InvalidSignature) as forged:
        verify([secret], "{}", headers)
    assert forged.value.details == {}


def queue(site, marker: str) -> None:
    """One member.updated event in the outbox, as a source would record it."""
    site.wp_eval(f"""
        $payload = array('type' => 'member.updated', 'occurred_at' => gmdate('Y-m-d\\\\TH:i:s\\\\Z'), 'source' => 'memberpress',
            'member' => array('id' => '{marker}', 'email' => '{marker}@example.org'));
        Farewell_Bridge_Outbox::insert('fwb_clock_{marker}', 'member.updated', wp_json_encode($payload));
    """)


def restart(sidecar, offset_seconds: int | None):
    sidecar.stop()
    for name in ("LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC"):
        sidecar.env.pop(name, None)
    if offset_seconds is not None:
        sidecar.env.update(faketime_env(offset_seconds))
    sidecar.start()
    ahead = (parsedate_to_datetime(requests.get(sidecar.url + "/healthz", timeout=10).headers["Date"]).timestamp()
             - float(subprocess.run([sys.executable, "-c", "import time; print(time.time())"], capture_output=True,
                                    text=True, check=True).stdout))
    assert abs(ahead - (offset_seconds or 0)) <= 5, f"the sidecar's clock is {ahead:.0f} s off, not {offset_seconds}"


def sidecar_webhook_ids(sidecar) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(sidecar.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT webhook_id FROM events ORDER BY id")).scalars())
    finally:
        engine.dispose()


def admin_page(admin, site) -> str:
    page = admin.get(f"{site.url}/wp-admin/options-general.php?page=farewell-bridge", timeout=30)
    assert page.status_code == 200
    return html.unescape(page.text)


def test_four_minutes_apart_deliver_six_minutes_apart_explain_and_wait_then_deliver(wordpress_site, sidecar_server):
    sidecar = sidecar_server(extra_env=faketime_env(240))  # the sidecar's clock 4 min ahead of WordPress
    site = wordpress_site("6.8", constants=bridge_constants(sidecar))

    queue(site, "four")
    site.run_cron()
    assert [r["status"] for r in outbox(site) if r["webhook_id"] == "fwb_clock_four"] == ["delivered"]
    assert sidecar_webhook_ids(sidecar) == ["fwb_clock_four"]

    restart(sidecar, 362)  # now 6 min 2 s ahead
    queue(site, "six")
    site.run_cron()
    row = next(r for r in outbox(site) if r["webhook_id"] == "fwb_clock_six")
    assert row["status"] == "pending", "a clock skew is retried, never given up at once"
    assert "Your server's clock differs from the sidecar's by about 6 minutes: this server is behind." in row["last_error"]
    assert sidecar_webhook_ids(sidecar) == ["fwb_clock_four"]

    with site.login(ADMIN_USER, ADMIN_PASSWORD) as admin:
        page = admin_page(admin, site)
        notice = re.search(r'farewell-bridge-clock-skew">\s*<p>(.*?)</p>', page, flags=re.S)
        assert notice, "a clock-skew notice in the outbox panel"
        assert "differs from the sidecar's by about 6 minutes" in notice.group(1)
        assert "NTP" in notice.group(1)
        assert "secret is wrong" not in page, "not mistaken for a wrong secret"

        link = re.search(r'href="([^"]*action=farewell_bridge_test_connection[^"]*)"', page)
        tested = html.unescape(admin.get(link.group(1), timeout=30).text)
        message = re.search(r'farewell-bridge-notice">\s*<p>(.*?)</p>', tested, flags=re.S)
        assert message and "Your server's clock differs from the sidecar's by about 6 minutes" in message.group(1)

        restart(sidecar, None)  # NTP fixed the sidecar's clock
        page = admin_page(admin, site)
        retry = re.search(r'href="([^"]*action=farewell_bridge_retry_now[^"]*)"', page)
        done = admin_page_after(admin, retry.group(1))
        assert "Delivered: 1." in done
        assert "farewell-bridge-clock-skew" not in admin_page(admin, site), "the notice goes once a request succeeds"

    assert sidecar_webhook_ids(sidecar) == ["fwb_clock_four", "fwb_clock_six"]
    assert {r["status"] for r in outbox(site)} == {"delivered"}
    assert_no_php_errors(site)


def admin_page_after(admin, url: str) -> str:
    response = admin.get(html.unescape(url), timeout=60)
    assert response.status_code == 200
    return html.unescape(response.text)
