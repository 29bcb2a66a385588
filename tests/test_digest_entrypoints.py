"""Where the digest is reached from: the admin API, the command line and the jobs' scheduler."""

from __future__ import annotations

import email
import json
from email import policy

from sidecar.domain.compose import MailConfig
from sidecar.domain.dispatch import DispatchConfig
from sidecar.jobs import runner
from sidecar.mail.transports import MaildirTransport
from tests.conftest import make_event
from tests.support.cli import run


def test_the_digest_route_returns_the_weeks_figures(post_event, admin_get, site):
    assert post_event(make_event(occurred_at="2026-11-18T10:00:00Z")).status_code == 202
    body = admin_get(f"/v1/sites/{site['id']}/digest", week="2026-W47").json
    assert body["week"] == "2026-W47" and body["quiet"] is False
    assert body["headline"]["week"]["cancellations"] == 1
    assert body["headline"]["week"]["revenue_lost"] == {"EUR": "29.00"}
    assert admin_get(f"/v1/sites/{site['id']}/digest", week="2026-48").status_code == 400
    assert admin_get(f"/v1/sites/{site['id']}/digest", token=None).status_code == 401
    assert admin_get("/v1/sites/nope/digest").status_code == 404


def test_cli_previews_a_week_and_sends_a_copy(tmp_path):
    def cli(*args):
        return run(*args, data_dir=tmp_path)

    site_id = json.loads(cli("sites", "add", "--url", "https://club.example.org", "--name", "Le Club",
                             "--timezone", "Europe/Paris", "--locale", "fr_FR").stdout)["site_id"]
    preview = cli("digest", "preview", "--site", site_id, "--week", "2026-W48")
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout.startswith("<!DOCTYPE html>") and "data:image/png;base64," in preview.stdout
    assert "semaine calme, 23 nov. – 29 nov. 2026" in preview.stdout
    assert cli("digest", "preview", "--site", site_id, "--week", "48").returncode == 2
    sent = cli("digest", "send", "--site", site_id, "--week", "2026-W48", "--to", "me@example.org")
    assert json.loads(sent.stdout)["status"] == "sent", sent.stderr
    [path] = (tmp_path / "mail" / "new").glob("*.eml")
    assert email.message_from_bytes(path.read_bytes(), policy=policy.default)["To"] == "me@example.org"
    # Without --to, the site's recipients; it has none yet: skipped, said, non-zero exit.
    skipped = cli("digest", "send", "--site", site_id, "--week", "2026-W48")
    assert skipped.returncode == 1 and json.loads(skipped.stdout)["detail"] == "no recipients"


def test_the_jobs_tick_digests_beside_the_dispatch(engine, tmp_path):
    mail = MailConfig(secret_key="k", public_url="http://sidecar.test", mail_from="f@example.org")
    jobs = runner.Jobs(engine=engine, transport=MaildirTransport(tmp_path), config=DispatchConfig(mail=mail),
                       clock=lambda: None, interval=30)
    scheduler = runner.build_scheduler(jobs)
    digest_job = scheduler.get_job(runner.DIGEST_JOB_ID)
    assert scheduler.get_job(runner.DISPATCH_JOB_ID) is not None
    assert digest_job.trigger.interval.total_seconds() == runner.DIGEST_INTERVAL_SECONDS


def test_the_bridge_reports_the_wordpress_admin_email_as_the_default_recipient(client, site, app):
    import json as _json

    from sidecar.domain.digest import digest_settings
    from sidecar.signing import sign

    def report(document):
        body = _json.dumps(document)
        path = f"/v1/sites/{site['id']}/site-info"
        return client.post(path, data=body, headers={"Content-Type": "application/json",
                                                     **sign(site["secret"], "info_1", body, method="POST", path=path)})

    assert report({"admin_email": "proprietaire@club.example.org"}).json == {"status": "ok"}
    with app.extensions["farewell.engine"].connect() as conn:
        assert digest_settings(conn, site["id"])["recipients"] == ["proprietaire@club.example.org"]
    refused = report({"admin_email": "not an address"})
    assert refused.status_code == 400 and refused.json["fields"] == {"admin_email": "must be an email address"}
    unsigned = client.post(f"/v1/sites/{site['id']}/site-info", json={"admin_email": "eve@example.org"})
    assert unsigned.status_code == 401
