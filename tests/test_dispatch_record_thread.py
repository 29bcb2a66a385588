"""One run of the dispatcher records all its batches' sends on one thread, not a thread started per
batch (whose start the batch's first record waited for), and leaves none running after it. Real
aiosmtpd (in this process, so its hook sees the dispatcher's threads), real SQLite and MariaDB."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from bench.dispatch import seed_due_emails
from sidecar.domain.compose import MailConfig
from sidecar.domain.dispatch import DispatchConfig, dispatch_due
from sidecar.domain.sites import create_site
from sidecar.mail.transports import transport_from_url

CONFIG = DispatchConfig(mail=MailConfig("record-thread-secret-0123", "http://sidecar.test", "farewell@localhost"),
                        batch_size=3)
EMAILS = 9  # three full batches, and the empty claim that ends the run


def _record_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("farewell-record")]


def test_a_run_records_every_batch_on_one_thread(engine, smtp):
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    seed_due_emails(engine, site["id"], EMAILS, datetime.now(timezone.utc))
    seen: list[threading.Thread] = []  # the objects themselves: an ident can be reused

    def look(_count: int) -> None:  # on_accept: a batch's earlier records went on its record thread
        seen.extend(t for t in _record_threads() if t not in seen)

    smtp.on_accept = look
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert report.sent == EMAILS
    assert len(seen) == 1, seen
    assert not seen[0].is_alive() and _record_threads() == []
