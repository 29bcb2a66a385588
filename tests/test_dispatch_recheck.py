"""The check right before a batch's exchanges (storage.emails.recheck) answers, for each email, the
suppression of the very address the batch was read with on that email's site: not another
address's of the same batch, nor the same address's on another site, however many of the batch's
addresses a site has suppressed; and so does the batch's read of suppressions before its rules
(storage.suppressions.reasons). Real SQLite and MariaDB."""

from __future__ import annotations

from datetime import datetime, timezone

from bench.dispatch import seed_due_emails
from sidecar.domain.sites import create_site
from sidecar.domain.unsubscribe import email_hash
from sidecar.storage import emails as emails_store
from sidecar.storage import suppressions as suppressions_store

SECRET = "recheck-secret-0123456789"


def test_each_email_gets_its_own_addresss_suppression_on_its_own_site(engine):
    now = datetime.now(timezone.utc)
    club = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    other = create_site(engine, "https://autre.example.org", "L'Autre", "Europe/Paris", "fr_FR")
    ids = seed_due_emails(engine, club["id"], 5, now)
    hashes = {i: email_hash(SECRET, f"member{i}@example.org") for i in ids}
    with engine.begin() as conn:
        suppressions_store.suppress(conn, club["id"], hashes[ids[0]], "unsubscribed", now)
        suppressions_store.suppress(conn, club["id"], hashes[ids[1]], "bounced", now)
        suppressions_store.suppress(conn, club["id"], hashes[ids[2]], "unsubscribed", now)
        # Suppressed on another site only: not on this email's.
        suppressions_store.suppress(conn, other["id"], hashes[ids[3]], "unsubscribed", now)
        # An address no email of the batch was read with.
        suppressions_store.suppress(conn, club["id"], email_hash(SECRET, "someone@example.org"), "bounced", now)
    # The third email was read with an address its member has since left: its old one is suppressed,
    # the check answers for the address the batch was read with.
    read_with = {**hashes, ids[2]: email_hash(SECRET, "old@example.org")}
    with engine.begin() as conn:
        suppressions_store.suppress(conn, club["id"], read_with[ids[2]], "bounced", now)
        checked = emails_store.recheck(conn, ids, read_with)
    assert {i: checked[i]["suppressed"] for i in ids} == {
        ids[0]: "unsubscribed", ids[1]: "bounced", ids[2]: "bounced", ids[3]: None, ids[4]: None}
    assert [checked[i]["email"] for i in ids] == [f"member{i}@example.org" for i in ids]
    assert all(checked[i]["won_back"] is False and checked[i]["resumed_at"] is None for i in ids)


def test_a_batch_without_addresses_to_check_is_checked_all_the_same(engine):
    # Owner alerts have no address the batch checks: no hashes at all.
    now = datetime.now(timezone.utc)
    club = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    ids = seed_due_emails(engine, club["id"], 2, now)
    with engine.begin() as conn:
        checked = emails_store.recheck(conn, ids, {})
    assert sorted(checked) == sorted(ids)
    assert all(row["suppressed"] is None for row in checked.values())
    with engine.begin() as conn:
        assert emails_store.recheck(conn, [], {}) == {}


def test_the_batch_read_of_suppressions_pairs_each_address_with_its_own_site(engine):
    # suppressions.reasons reads by the batch's sites and the batch's addresses, then keeps only
    # the pairs asked for: an address suppressed on the other site of the batch is not suppressed here.
    now = datetime.now(timezone.utc)
    club = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    other = create_site(engine, "https://autre.example.org", "L'Autre", "Europe/Paris", "fr_FR")
    first, second, third = (email_hash(SECRET, f"{name}@example.org") for name in ("first", "second", "third"))
    with engine.begin() as conn:
        suppressions_store.suppress(conn, club["id"], second, "bounced", now)
        suppressions_store.suppress(conn, other["id"], first, "unsubscribed", now)
        suppressions_store.suppress(conn, other["id"], third, "unsubscribed", now)
    with engine.begin() as conn:
        asked = {(club["id"], first), (other["id"], second), (other["id"], third), (club["id"], third)}
        assert suppressions_store.reasons(conn, asked) == {(other["id"], third): "unsubscribed"}
        assert suppressions_store.reasons(conn, set()) == {}
