"""The current database schema, as SQLAlchemy Core tables.

Alembic migrations (``sidecar/migrations/versions``) create and change the real schema step by
step; ``tests/test_migrations.py`` checks that the migrated database matches these definitions.
All text is utf8mb4 with a binary collation on MySQL/MariaDB, so comparisons behave as on SQLite
and any character (French accents, emoji) round-trips byte-exact.

One file although it is long: it is one schema, read whole by Alembic and by the migrations test,
with foreign keys across its sections; each section below is one part of the product.
"""

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .types import Id, LongText, Money, UTCDateTime

MYSQL_TABLE_ARGS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "mysql_engine": "InnoDB"}

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sites = Table(
    "sites",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("url", String(500), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("secret", String(100), nullable=False),
    Column("previous_secret", String(100)),
    Column("previous_secret_expires_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    # Dashboard sessions issued before this moment are refused (sidecar/domain/dashboard_sessions.py).
    Column("sessions_valid_after", UTCDateTime()),
    # Draws each voluntary cancellation's group for the holdout (sidecar.domain.holdout); secret.
    Column("holdout_seed", String(64)),
    **MYSQL_TABLE_ARGS,
)

members = Table(
    "members",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("external_id", String(64), nullable=False),
    Column("email", String(254), nullable=False),
    Column("first_name", String(200)),
    Column("locale", String(16)),
    # occurred_at of the event that last set email/name/locale: an older event never overwrites.
    Column("details_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("site_id", "external_id"),
    Index(None, "site_id", "email"),
    **MYSQL_TABLE_ARGS,
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("source", String(32), nullable=False),
    Column("external_id", String(191), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("plan_id", String(64)),
    Column("plan_name", String(200)),
    Column("amount", Money()),
    Column("currency", String(3)),
    Column("interval", String(16)),
    Column("status", String(16), nullable=False),
    # occurred_at of the event that last changed the status; older events never change it back.
    Column("status_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("access_ends_at", UTCDateTime()),
    Column("details_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # When another subscription of its member replaced it (a plan change, "subscription.replaces"):
    # it ended then without being a cancellation, and its status stays "replaced" (migration 0015).
    Column("replaced_at", UTCDateTime()),
    UniqueConstraint("site_id", "source", "external_id"),
    # The comebacks' reads tell a plan change from a comeback by it (storage.winbacks); not led by
    # member_id, which MariaDB would then take as its foreign key's index and never let go of.
    Index(None, "replaced_at", "member_id"),
    # A member's subscriptions (a cancellation arriving after its comeback, an erasure): InnoDB
    # indexes the member_id foreign key by itself, SQLite does not and read every subscription of
    # the database instead (migration 0020).
    Index(None, "member_id"),
    # A replaced subscription stays replaced: the upserts (storage._upsert) leave its status group
    # as it is while replaced_at is set, so its own later events never make it active again.
    info={"held_while_set": {"status_at": "replaced_at"}},
    **MYSQL_TABLE_ARGS,
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("webhook_id", String(255), nullable=False),
    Column("type", String(32), nullable=False),
    Column("source", String(32), nullable=False),
    Column("initiated_by", String(16), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("member_id", Id, ForeignKey("members.id")),
    Column("subscription_id", Id, ForeignKey("subscriptions.id")),
    # The raw body exactly as signed, for audit and for replaying history into new features.
    Column("payload", LongText, nullable=False),
    # The request only stores the event; the applier (sidecar.domain.applier) applies it later:
    # applied_at set in the transaction of its effects. Unapplied, apply_after is when it is next
    # tried; unapplied with no apply_after, it is parked (apply_error says why) until
    # `events reapply`.
    Column("applied_at", UTCDateTime()),
    Column("apply_after", UTCDateTime()),
    Column("apply_attempts", Integer, nullable=False, server_default="0"),
    Column("apply_error", String(1000)),
    # The cancellation a survey answer's email-link token named, verified in the request (the
    # applier needs no secret key).
    Column("survey_cancellation_id", Id),
    # History recorded after the fact (events.Event.imported): counted like any event, but the
    # dashboard and the digest say reasons are only known since the first live event.
    Column("imported", Boolean, nullable=False, server_default="0"),
    # The rules the request validated the payload with before its 202 (events.SCHEMA_DIGEST): the
    # applier validates it again only when they changed since, or when this is NULL (stored by an
    # older sidecar, or applied in its own request by record_event).
    Column("validated_with", String(16)),
    UniqueConstraint("site_id", "webhook_id"),
    Index(None, "subscription_id", "type", "occurred_at"),
    # The unapplied gauges: applied_at IS NULL, then apply_after.
    Index(None, "applied_at", "apply_after"),
    # The applier's claim reads the unapplied in the order it applies them and stops at its limit,
    # locking its batch only (migration 0012).
    Index(None, "applied_at", "occurred_at", "id"),
    # Whether a site has imported history, and its first live event: one index probe each.
    Index(None, "site_id", "imported", "occurred_at"),
    # A member's events (the applier's comebacks of its batch's members, a late cancellation's
    # comeback after it; an erasure): InnoDB indexes the member_id foreign key by itself, SQLite
    # does not and read every event of the database instead (migration 0017).
    Index(None, "member_id", "occurred_at"),
    **MYSQL_TABLE_ARGS,
)

cancellations = Table(
    "cancellations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("subscription_id", Id, ForeignKey("subscriptions.id"), nullable=False),
    Column("event_id", Id, ForeignKey("events.id"), nullable=False),
    Column("initiated_by", String(16), nullable=False),
    # "cancelled": somebody stopped the subscription; "expired": it ran out with no cancel seen.
    Column("kind", String(16), nullable=False),
    Column("cancelled_at", UTCDateTime(), nullable=False),
    Column("access_ends_at", UTCDateTime()),
    Column("resumed_at", UTCDateTime()),
    Column("ended_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    # "followups" or "holdout", drawn once when it opens (sidecar.domain.holdout); none: outside
    # the comparison (not voluntary, imported, unsubscribed before, or opened before issue 20).
    Column("followup_group", String(16)),
    # The same cancellation reported twice (two webhook ids, one occurrence) is one record.
    UniqueConstraint("subscription_id", "cancelled_at"),
    Index(None, "site_id", "cancelled_at"),
    # The holdout's figures read the grouped rows only, whatever the site's history (migration 0014).
    Index(None, "site_id", "followup_group", "cancelled_at"),
    # A batch's members' grouped cancellations, for the kept holdout figures (migration 0016_20z).
    Index(None, "member_id", "followup_group", "cancelled_at"),
    **MYSQL_TABLE_ARGS,
)

survey_definitions = Table(
    "survey_definitions",
    metadata,
    Column("site_id", String(32), ForeignKey("sites.id"), primary_key=True),
    # Versions are immutable once stored: an answer names the version its member saw.
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("definition", LongText, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    **MYSQL_TABLE_ARGS,
)

survey_answers = Table(
    "survey_answers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    # NULL until the cancellation it answers is known (the answer may arrive first).
    Column("cancellation_id", Id, ForeignKey("cancellations.id")),
    # The source's subscription id the member answered about, to attach the answer later.
    Column("subscription_external_id", String(191)),
    Column("event_id", Id, ForeignKey("events.id"), nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("locale", String(16)),
    Column("reason", String(40)),
    Column("follow_up", String(1000)),
    Column("comment", Text),
    Column("contact_requested", Boolean, nullable=False),
    Column("contact", String(200)),
    Column("answered_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # One answer per cancellation: a second one replaces the first.
    UniqueConstraint("cancellation_id"),
    Index(None, "member_id", "answered_at"),
    **MYSQL_TABLE_ARGS,
)

contact_requests = Table(
    "contact_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("answer_id", Id, ForeignKey("survey_answers.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("contact", String(200)),
    Column("requested_at", UTCDateTime(), nullable=False),
    # Set when the owner's alert email went out (jobs) and when the owner marked it answered.
    Column("alerted_at", UTCDateTime()),
    Column("answered_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("answer_id"),
    Index(None, "site_id", "answered_at"),
    # The requests whose owner alert each jobs tick looks for, oldest first: neither alerted nor
    # answered (storage.emails.contact_requests_to_alert; migration 0018).
    Index(None, "alerted_at", "answered_at", "requested_at"),
    **MYSQL_TABLE_ARGS,
)

# --- Re-engagement emails --------------------------------------------------------------------

site_settings = Table(
    "site_settings",
    metadata,
    # One row per site, created on first edit; sidecar.domain.site_settings holds the defaults.
    Column("site_id", String(32), ForeignKey("sites.id"), primary_key=True),
    Column("sender_name", String(200)),
    Column("support_email", String(254)),
    # Comma-separated addresses that receive the owner's alerts (contact requests).
    Column("owner_emails", String(1000)),
    Column("postal_address", String(500)),
    Column("default_offer_text", Text),
    Column("default_offer_code", String(64)),
    Column("news_url", String(500)),
    Column("discount_percent", Integer),
    Column("coupon_days", Integer),
    Column("winback_window_days", Integer),
    Column("min_account_age_days", Integer),
    Column("max_emails_per_cancellation", Integer),
    Column("holdout_percent", Integer),
    Column("updated_at", UTCDateTime(), nullable=False),
    **MYSQL_TABLE_ARGS,
)

sequence_steps = Table(
    "sequence_steps",
    metadata,
    # Per-site changes to one step of the sequence; a missing row or NULL column = the default.
    Column("site_id", String(32), ForeignKey("sites.id"), primary_key=True),
    Column("step", String(32), primary_key=True),
    Column("enabled", Boolean),
    Column("delay_seconds", Integer),
    # JSON {"fr": {"subject": "…", "intro": "…"}, "en": {…}}: copy overrides per language.
    Column("copy_overrides", Text),
    Column("updated_at", UTCDateTime(), nullable=False),
    **MYSQL_TABLE_ARGS,
)

scheduled_emails = Table(
    "scheduled_emails",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    # A step of a cancellation's sequence, or an owner alert about a contact request.
    Column("cancellation_id", Id, ForeignKey("cancellations.id")),
    # No foreign key: a member may withdraw the request (its row is deleted); the alert is then skipped.
    Column("contact_request_id", Id),
    Column("step", String(32), nullable=False),
    # sidecar.storage.statuses.EmailStatus: pending, sending, sent, skipped, cancelled, failed.
    Column("status", String(16), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    # A claim: who holds it (a random token) and until when; an expired lease is claimed again.
    Column("lease_token", String(32)),
    Column("lease_until", UTCDateTime()),
    Column("sent_at", UTCDateTime()),
    Column("skip_reason", String(64)),
    Column("last_error", String(500)),
    Column("coupon_code", String(64)),
    Column("coupon_expires_at", UTCDateTime()),
    # How many times a dispatcher's lease ran out while this email was being sent (the process died
    # or stalled): above zero, the member may have received it twice.
    Column("interrupted_sends", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Planning twice (a retried event, a race) can never give a step twice.
    UniqueConstraint("cancellation_id", "step"),
    UniqueConstraint("contact_request_id"),
    Index(None, "status", "due_at"),
    Index(None, "status", "lease_until"),
    Index(None, "member_id", "status"),
    # /metrics' sum of interrupted_sends reads the few emails above zero (migration 0019).
    Index(None, "interrupted_sends"),
    **MYSQL_TABLE_ARGS,
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("site_id", String(32), ForeignKey("sites.id"), primary_key=True),
    # HMAC-SHA256 (secret key) of the lower-cased address: erasing a member keeps the suppression
    # without keeping the address.
    Column("email_hash", String(64), primary_key=True),
    # "unsubscribed" or "bounced".
    Column("reason", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    **MYSQL_TABLE_ARGS,
)

winbacks = Table(
    "winbacks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("cancellation_id", Id, ForeignKey("cancellations.id"), nullable=False),
    Column("event_id", Id, ForeignKey("events.id"), nullable=False),
    Column("subscription_id", Id, ForeignKey("subscriptions.id"), nullable=False),
    # "subscription.created" or "subscription.resumed".
    Column("event_type", String(32), nullable=False),
    Column("won_back_at", UTCDateTime(), nullable=False),
    Column("amount", Money()),
    Column("currency", String(3)),
    # The last email of the sequence sent before the member came back, if any.
    Column("last_email_id", Id, ForeignKey("scheduled_emails.id")),
    Column("last_email_step", String(32)),
    Column("coupon_code", String(64)),
    Column("created_at", UTCDateTime(), nullable=False),
    # A cancellation is won back once; the first comeback counts.
    UniqueConstraint("cancellation_id"),
    Index(None, "site_id", "won_back_at"),
    **MYSQL_TABLE_ARGS,
)

# The holdout's judged figures kept per site (sidecar.domain.holdout), so that a view reads the
# cancellations judged since they were kept, not every one (migration 0016_20z). One row per site
# from its creation: the applier's batches lock it shared while they check whether they touched a
# kept cancellation, and a reader's claim waits for them.
holdout_tallies = Table(
    "holdout_tallies",
    metadata,
    Column("site_id", String(32), ForeignKey("sites.id"), primary_key=True),
    # Bumped by every change to a cancellation at or before claimed_until: kept figures of an
    # older generation are never used.
    Column("generation", Integer, nullable=False, server_default="0"),
    # How far readers may keep figures; writers compare with it, readers move it on first.
    Column("claimed_until", UTCDateTime()),
    # The kept figures: the cancellations opened at or before ``bound``, counted at
    # ``tally_generation`` with the reasons' cut-off and the address key's probe they depend on.
    Column("bound", UTCDateTime()),
    Column("tally_generation", Integer),
    Column("reason_cutoff_seconds", Integer),
    Column("key_probe", String(64)),
    Column("figures", LongText),
    **MYSQL_TABLE_ARGS,
)

# --- Owners' weekly digest --------------------------------------------------------------------

digest_settings = Table(
    "digest_settings",
    metadata,
    # One row per site, created on first edit; sidecar.domain.digest holds the defaults.
    Column("site_id", String(32), ForeignKey("sites.id"), primary_key=True),
    # ISO weekday 1 (Monday) … 7 (Sunday) and hour 0 … 23, in the site's time zone.
    Column("weekday", Integer),
    Column("hour", Integer),
    # Comma-separated addresses; NULL = the WordPress admin email, else the owner emails.
    Column("recipients", String(1000)),
    # The address WordPress reports as its admin email (sent by the bridge).
    Column("wordpress_admin_email", String(254)),
    Column("updated_at", UTCDateTime(), nullable=False),
    **MYSQL_TABLE_ARGS,
)

digests = Table(
    "digests",
    metadata,
    # The claim of one site's digest for one ISO week: the unique key makes a second sender's
    # claim a harmless duplicate, and the lease lets a crashed sender's claim be taken again.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("week", String(8), nullable=False),  # "2026-W48": the week the digest reports on
    # sidecar.storage.statuses.DigestStatus: pending, sending, sent, skipped, failed.
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_token", String(32)),
    Column("lease_until", UTCDateTime()),
    Column("recipients", String(1000)),
    Column("sent_at", UTCDateTime()),
    Column("last_error", String(500)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("site_id", "week"),
    **MYSQL_TABLE_ARGS,
)

# Indexes the digest reads through, so that its cost follows the week and not the history.
Index("ix_survey_answers_site_id_answered_at", survey_answers.c.site_id, survey_answers.c.answered_at)
Index("ix_scheduled_emails_site_id_sent_at", scheduled_emails.c.site_id, scheduled_emails.c.sent_at)
Index("ix_suppressions_site_id_created_at", suppressions.c.site_id, suppressions.c.created_at)

# --- Owner's dashboard ------------------------------------------------------------------------

login_nonces = Table(
    "login_nonces",
    metadata,
    # A sign-in token from WordPress is used once: its nonce is stored under this key, and a
    # second use fails on it. Rows are pruned once their token could no longer be accepted anyway.
    Column("site_id", String(32), ForeignKey("sites.id"), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=False),
    Index(None, "expires_at"),
    **MYSQL_TABLE_ARGS,
)

signed_out_sessions = Table(
    "signed_out_sessions",
    metadata,
    # A dashboard session is a signed cookie: signing out clears it in that browser, and this row
    # refuses any copy of it. Rows are pruned once the session would have expired anyway.
    Column("site_id", String(32), ForeignKey("sites.id"), primary_key=True),
    Column("session_id", String(64), primary_key=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index(None, "expires_at"),
    **MYSQL_TABLE_ARGS,
)

# Fixed-window counters for the public endpoints, shared by every web process through the database.
rate_limit_hits = Table(
    "rate_limit_hits",
    metadata,
    # "<scope>:<hash of the client key>"; never a raw address.
    Column("bucket", String(100), primary_key=True),
    Column("window_start", UTCDateTime(), primary_key=True),
    Column("hits", Integer, nullable=False),
    Index(None, "window_start"),
    **MYSQL_TABLE_ARGS,
)

# One row per jobs process and job: /healthz reports the newest tick of each job.
job_heartbeats = Table(
    "job_heartbeats",
    metadata,
    Column("worker", String(100), primary_key=True),
    Column("job", String(32), primary_key=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("last_tick_at", UTCDateTime(), nullable=False),
    Column("last_report", String(500)),
    **MYSQL_TABLE_ARGS,
)

# Members at risk (issue 18; rules in sidecar.domain.at_risk): per subscription, what the list
# needs and nothing of each renewal beyond the last success and the failures since. Recomputed
# from the subscription's events on each one that concerns it, so arrival order never matters.
at_risk = Table(
    "at_risk",
    metadata,
    Column("subscription_id", Id, ForeignKey("subscriptions.id"), primary_key=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    # The first failure of the current run (failures since the last success), and how many.
    Column("failing_since", UTCDateTime()),
    Column("failed_attempts", Integer, nullable=False, server_default="0"),
    Column("last_succeeded_at", UTCDateTime()),
    Column("paused_since", UTCDateTime()),
    # When the member entered the list they are on now; None when not on it.
    Column("since", UTCDateTime()),
    Index(None, "site_id", "since"),
    **MYSQL_TABLE_ARGS,
)

# Each stay on the list, for the weekly figures (entered, left and why).
at_risk_spells = Table(
    "at_risk_spells",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False),
    Column("subscription_id", Id, ForeignKey("subscriptions.id"), nullable=False),
    Column("entered_at", UTCDateTime(), nullable=False),
    Column("left_at", UTCDateTime()),
    # recovered (a later payment succeeded, or the pause ended), cancelled or expired.
    Column("left_reason", String(16)),
    Index(None, "subscription_id"),
    Index(None, "site_id", "entered_at"),
    Index(None, "site_id", "left_at"),
    **MYSQL_TABLE_ARGS,
)
