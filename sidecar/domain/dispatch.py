"""Where work is claimed and emails are sent: the dispatcher the jobs process ticks.

Each batch: claim due emails with a lease (one short transaction), read what they all need and
evaluate the rules in two queries for the batch, then hand each message to the transport and
record the outcome right after the server accepted it; each message is rendered and built while
the server takes the one before it (_Ready.build). Any number of dispatchers may run side by
side: a row is claimed by one of them only (SKIP LOCKED on MariaDB, one writer at a time on SQLite),
and a dispatcher that dies leaves leases that expire and are claimed again. A crash between
"accepted" and "marked sent" re-sends that one message: at-least-once at the SMTP boundary, with the
same Message-ID. Sends are one at a time and each is recorded right after its acceptance, the
record committing while the next message's exchange goes, which waits for that commit before the
"." that ends its data (the server takes a message only then): a dispatcher that dies duplicates
at most one message; the emails it had claimed are counted in ``interrupted_sends`` when taken over.

The rules are read twice: once for the batch to decide and render, and once more right before the
SMTP exchanges (``_last_check``, one query for the messages still to send), holding their members'
rows on MariaDB until the server accepted them, so an unsubscribe or a comeback is either seen or
recorded after the message went out. The members are let go, and the rest read again, once the
check is ``recheck_after`` old: an unsubscribe waits for a few exchanges at most, not a batch.

One file although it is long: it is one batch's life (claim, read, check, send, record) with each
of its failure paths (refused, outage, lease lost), which are only right when read together.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterator, Mapping

from sqlalchemy.engine import Engine

from ..db import UNAVAILABLE_ERRORS, is_mysql
from ..mail.message import BadAddress, Outgoing
from ..mail.transports import (
    DeliveryError,
    PermanentFailure,
    RecipientRefused,
    Transport,
    TransportUnavailable,
)
from ..storage import emails as emails_store
from ..storage import sites as sites_store
from ..storage import subscriptions as subscriptions_store
from ..storage import suppressions as suppressions_store
from ..storage._reads import kept_for_transaction
from ..storage.leases import Term
from . import compose, offers, sequences, unsubscribe
from .email_status import EmailStatus, sources_of
from .sequences import OWNER_ALERT, Defer, Skip, SkipReason
from .site_settings import effective_settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DispatchConfig:
    mail: compose.MailConfig
    # Small batches bound what a crash can duplicate and how long a lease must last.
    batch_size: int = 20
    # Longer than a batch can take (batch_size × the transport's timeout), so a live dispatcher
    # never loses its lease.
    lease: timedelta = timedelta(minutes=10)
    max_attempts: int = 8
    first_retry: timedelta = timedelta(minutes=1)
    longest_retry: timedelta = timedelta(hours=6)
    # When the server is down, the batch waits this long; the attempt is not counted.
    outage_pause: timedelta = timedelta(seconds=60)
    # A message the server accepted while the database was unreachable: how long (real seconds)
    # to keep trying to record it before leaving it to be taken over (and possibly sent again).
    record_patience: float = 60.0
    # How old (real seconds) the last check may get before the messages still to send are checked
    # again: on MariaDB it bounds how long an unsubscribe waits for the members this batch holds
    # (plus one exchange), on SQLite how long before its exchange a message was last checked.
    recheck_after: float = 0.5
    # FAREWELL_BRIDGE_ALLOWED_NETWORKS: the private networks a site's bridge may be in (coupons).
    bridge_networks: tuple = ()

    @classmethod
    def from_app_config(cls, config: Mapping, **overrides) -> "DispatchConfig":
        mail = compose.MailConfig(secret_key=config["SECRET_KEY"], public_url=config["FAREWELL_PUBLIC_URL"],
                                  mail_from=config["FAREWELL_MAIL_FROM"])
        if "FAREWELL_DISPATCH_LEASE" in config:
            # The lease is compared with the jobs' clock, which may run faster than real time (the
            # demo); a batch takes real seconds, so the lease is that many real seconds.
            speed = config.get("FAREWELL_CLOCK_SPEED") or 1
            overrides.setdefault("lease", timedelta(seconds=config["FAREWELL_DISPATCH_LEASE"] * speed))
        overrides.setdefault("bridge_networks", tuple(config.get("FAREWELL_BRIDGE_ALLOWED_NETWORKS") or ()))
        return cls(mail=mail, **overrides)

    def retry_delay(self, attempts: int) -> timedelta:
        """Exponential backoff: 1, 2, 4 … minutes, at most ``longest_retry``."""
        return min(self.first_retry * (2 ** max(attempts - 1, 0)), self.longest_retry)


@dataclass
class BatchReport:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0
    lost: int = 0

    def add(self, other: "BatchReport") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Cache:
    """Per-batch reads that every email of a site shares."""

    sites: dict = field(default_factory=dict)

    def site(self, conn, site_id: str) -> tuple[dict, dict, dict]:
        if site_id not in self.sites:
            self.sites[site_id] = (sites_store.get_site(conn, site_id), effective_settings(conn, site_id),
                                   sequences.configured_steps(conn, site_id))
        return self.sites[site_id]


def claim(database, now: datetime, config: DispatchConfig) -> tuple[str, list[int]]:
    """``database``: the engine, or a batch's _Recorder (_LookAhead)."""
    token = secrets.token_hex(16)
    # The jobs' clock alone: config.lease is already that many real seconds on it (from_app_config).
    term = Term(config.lease)
    with database.begin() as conn:
        ids, interrupted = emails_store.claim_due(conn, now, config.batch_size, token, term.end(now),
                                                  term.ended_before(now))
    for email_id in interrupted:
        log.warning("scheduled email %s: its sender stopped mid-batch; taken over, it may reach the member twice",
                    email_id)
    return token, ids


def dispatch_batch(engine: Engine, transport: Transport, config: DispatchConfig, clock: Clock,
                   session=None, record_thread: ThreadPoolExecutor | None = None,
                   batch: "_Batch | None" = None, ahead: "_LookAhead | None" = None,
                   record_connection: "_RecordConnection | None" = None) -> BatchReport:
    """Claim one batch and send it; returns what happened. ``session``: the transport's session
    to send on (dispatch_due keeps one for its batches); else the batch opens its own.
    ``record_thread``, ``record_connection``: where and on what its records run (dispatch_due
    keeps one of each); else its own.
    ``batch``: the batch already claimed and prepared (by the one before's ``ahead``), else one is
    claimed here. ``ahead``: what claims and prepares the next batch while the server takes this
    one's last messages (only when this batch is full: a short one means nothing more is due)."""
    if batch is None:
        batch = _claim_and_prepare(engine, config, clock)
    elif batch.error is not None:
        raise batch.error  # what claiming or preparing it raised, as if it were raised here
    else:
        _LookAhead.finish(engine, batch, config, clock)  # what the slots of the batch before left
    report, ready, token = batch.report, batch.ready, batch.token
    if batch.later:  # claimed ahead, waiting for a coupon: asked for now, no member held
        ready = ready + _prepare(engine, batch.later, token, config, clock(), report)
    if not ready:
        return report
    if report.claimed < config.batch_size:
        ahead = None
    try:
        with (contextlib.nullcontext(session) if session is not None else transport.session()) as session, \
                _Recorder(engine, report, record_thread, record_connection) as recorder:
            _send(engine, session, recorder, ready, token, config, clock, report, ahead)
    except TransportUnavailable as outage:  # the session itself could not open (a mail folder)
        _outage(engine, ready, token, config, clock(), outage, report)
    return report


def dispatch_due(engine: Engine, transport: Transport, config: DispatchConfig, clock: Clock,
                 time_budget: float = 25.0) -> BatchReport:
    """Send batches until nothing is due or the budget (seconds, real time) is spent, so one tick
    never runs into the next.

    The batches share one session: one SMTP connection for the run, not a connect, EHLO and QUIT
    per batch (the session opens a new one when the server closed it or capped it), and one
    thread and one connection for their records: starting the thread, and opening the connection,
    per batch was on the critical path, the batch's first record waiting for them. Each full batch
    claims and prepares the next one while the server takes its last messages (_LookAhead); a run
    that stops with a batch claimed ahead gives it back."""
    total = BatchReport()
    deadline = time.monotonic() + time_budget
    ahead = _LookAhead(engine, config, clock, lambda: time.monotonic() <= deadline)
    with contextlib.ExitStack() as stack:
        record_thread = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="farewell-record"))
        record_connection = stack.enter_context(_RecordConnection(engine))
        try:
            session = stack.enter_context(transport.session())
        except TransportUnavailable:
            session = None  # the batch opens its own, which records the outage
        try:
            while True:
                report = dispatch_batch(engine, transport, config, clock, session, record_thread, ahead.take(), ahead,
                                        record_connection)
                total.add(report)
                if report.released or (ahead.batch is None and (report.claimed < config.batch_size
                                                                or time.monotonic() > deadline)):
                    break
        finally:
            # A batch claimed ahead that this run will not send: given back at once, not left to
            # its lease (it never reached the server); the outage that stopped the run delays it.
            left = ahead.take()
            if left is not None:
                with contextlib.suppress(Exception):  # its lease lapses instead; what goes up says more
                    total.add(_give_back(engine, left, config, clock(), outage=bool(total.released)))
    return total


# _LookAhead's stages, one a slot of a full batch's last messages.
_STAGES = ("claim", "contexts", "decide", "build")


@dataclass
class _Batch:
    """A claimed batch, read and decided: what dispatch_batch sends."""

    token: str
    report: BatchReport
    ready: list["_Ready"]
    # Claimed ahead (_LookAhead): the ids claimed, and how far its preparation went
    # (_LookAhead.STAGES; all of them once it is read, decided and its first message built).
    claimed: list[int] = field(default_factory=list)
    stage: int = len(_STAGES)  # a batch claimed when it is sent is prepared at once
    reads: "_Reads | None" = None
    # Emails claimed ahead whose offer needs a coupon from the site: prepared when the batch is
    # sent, not while the members of the batch before are held (_LookAhead).
    later: list[int] = field(default_factory=list)
    # What claiming or preparing it raised where nothing could raise (_LookAhead.step): raised
    # when it would be sent, as it would have been had the batch been claimed then.
    error: Exception | None = None


def _claim_and_prepare(engine, config, clock) -> _Batch:
    """A batch claimed and prepared when it is sent (no batch before claimed it ahead)."""
    token, claimed = claim(engine, clock(), config)
    batch = _Batch(token, BatchReport(claimed=len(claimed)), [])
    if claimed:
        batch.ready = _prepare(engine, claimed, token, config, clock(), batch.report)
    return batch


class _LookAhead:
    """The next batch claimed, read, decided and its first message built while the server takes
    this batch's last messages (Sender.send's ``meanwhile``, in the sending thread: a thread of its
    own lost on the GIL, BENCHMARKS.md's fourth round), rather than after the last one, when the
    server has nothing to do. One stage per slot (``STAGES``: the claim in the slot of the fourth
    message from the end, the emails' contexts in the third, the rest of the reads and the rules
    in the second, the first message's build in the last): a slot hides only the server's time on
    one "." (about 2 ms), which the whole of it overran (BENCHMARKS.md's sixth round), and so did
    the reads as one stage, by about twice what the contexts alone do (the tenth round). It is
    claimed a few exchanges early, so its lease (the configured one) still covers it; its check at
    send time is unchanged (_send, right before its exchanges).

    Its writes (the claim, the skips and deferrals it decides), and its reads, go on the current
    batch's recorder: no record is in flight in a slot (the "." waited for it), and on MariaDB that
    connection does not check the members this batch holds, which a claim's status change would
    wait for; its connection is open already, where the reads' own would ping the server first.
    What would ask a site for a coupon (an HTTP request, seconds at worst) waits until the
    batch is sent: on MariaDB the message's member is held until the server's reply, and an
    unsubscribe must not wait for a WordPress."""

    STAGES = _STAGES

    def __init__(self, engine, config: DispatchConfig, clock: Clock, wanted: Callable[[], bool]):
        self.engine, self.config, self.clock, self.wanted = engine, config, clock, wanted
        self.batch: _Batch | None = None

    def take(self) -> _Batch | None:
        batch, self.batch = self.batch, None
        return batch

    def step(self, recorder: "_Recorder", left: int, prepare=None) -> None:
        """The stages due in the slot of a message with ``left`` messages of its batch after it: as
        many as leave no more stages than slots. Never raises (it runs inside an SMTP exchange):
        what it raised is raised by the batch."""
        if self.batch is None:
            if not self.wanted():
                return
            self.batch = _Batch("", BatchReport(), [], stage=0)
        batch = self.batch
        try:
            while batch.error is None and batch.stage < len(self.STAGES) and len(self.STAGES) - batch.stage > left:
                self._advance(batch, recorder, prepare)
        except Exception as error:  # noqa: BLE001 - raised by dispatch_batch, outside the exchange
            batch.error = error

    def _advance(self, batch: _Batch, writes, prepare=None) -> None:
        stage = self.STAGES[batch.stage]
        batch.stage += 1
        if stage == "claim":
            batch.token, batch.claimed = claim(writes, self.clock(), self.config)
            batch.report.claimed = len(batch.claimed)
            if not batch.claimed:
                batch.stage = len(self.STAGES)
        elif stage == "contexts":
            with writes.begin() as conn:
                batch.reads = _read_contexts(conn, batch.claimed, self.config)
        elif stage == "decide":
            with writes.begin() as conn:
                _read_the_rest(conn, batch.reads)
            batch.ready = _decide_each(writes, batch.reads, batch.claimed, batch.token, self.config, self.clock(),
                                       batch.report, batch.later)
            batch.reads = None
        elif batch.ready:
            batch.ready[0].build(prepare)

    @classmethod
    def finish(cls, engine, batch: _Batch, config: DispatchConfig, clock: Clock) -> None:
        """The stages its slots did not run (a batch with fewer messages than stages, a transport
        that runs nothing meanwhile), run now, its writes on the engine, no member held."""
        ahead = cls(engine, config, clock, lambda: True)
        while batch.stage < len(cls.STAGES) - 1:  # the first message is built by its own send
            ahead._advance(batch, engine)


def _give_back(engine, batch: _Batch, config: DispatchConfig, now: datetime, outage: bool) -> BatchReport:
    """A batch claimed ahead and not sent: its messages put back untouched (the attempt not
    counted), due again at once, or after the outage pause when an outage stopped the run."""
    report = batch.report
    # Before its rules decided, every email it claimed; after, those they left to send.
    decided = batch.stage > _STAGES.index("decide")
    left = [r.email_id for r in batch.ready] + batch.later if decided else batch.claimed
    if left:
        report.released += _release(engine, left, batch.token, now, config,
                                    "given back: the run stopped before sending it" if not outage
                                    else "mail transport unavailable", pause=outage)
    return report


@dataclass(eq=False)
class _Ready:
    """A message decided and about to go out, with what its last check and its record need.

    Its message is built late (``build``): while the server takes the message before it
    (Sender.send's ``meanwhile``), the longest wait of an exchange, rather than with the rest of
    the batch before the first exchange, when the server has nothing to do. The same inputs as
    before (the batch's reads, its ``now``), so the same bytes."""

    email_id: int
    make: Callable[[], Outgoing]
    site_id: str
    # The member held during the exchange and the address the message was built for; None for an
    # owner alert, which is neither held nor checked against suppressions.
    member_id: int | None
    address: str | None
    address_hash: str | None
    contact_request_id: int | None
    outgoing: Outgoing | None = None
    # What building it raised: it is then not sent but skipped (BadAddress) or retried.
    failure: Exception | None = None

    def build(self, prepare: Callable[[Outgoing], None] | None = None) -> None:
        """Build the message once, and ``prepare`` it for its transport (Sender.prepare: SMTP writes
        its bytes); never raises (it runs inside an SMTP exchange)."""
        if self.outgoing is None and self.failure is None:
            try:
                outgoing = self.make()
                if prepare is not None:
                    prepare(outgoing)
                self.outgoing = outgoing
            except Exception as error:  # noqa: BLE001 - a bug in one email must not stop the others
                self.failure = error


_LEASE_LOST = object()
_NEEDS_COUPON = object()  # _decide: the offer would ask the site for a coupon, not allowed then
_MOVED = object()  # the member's address changed since the batch was read: read it again


def _prepare(engine, claimed: list[int], token, config, now, report) -> list[_Ready]:
    """Read what the batch needs (_read), apply the rules (_decide_each); returns the messages to
    send, in claim order, each built later (_Ready.build). What is skipped or deferred is recorded
    here."""
    return _decide_each(engine, _read(engine, claimed, config), claimed, token, config, now, report)


@dataclass
class _Reads:
    """What a batch's rules read: its emails' contexts, suppressions, requests and subscriptions."""

    contexts: dict
    hashes: dict
    suppressed: dict = field(default_factory=dict)
    requests: dict = field(default_factory=dict)
    subscriptions: dict = field(default_factory=dict)
    cache: _Cache = field(default_factory=_Cache)


def _read(engine, claimed: list[int], config) -> _Reads:
    """Two queries for the batch, plus a site with its settings and steps in one query once per
    batch."""
    with engine.connect() as conn:
        return _read_the_rest(conn, _read_contexts(conn, claimed, config))


def _read_contexts(conn, claimed: list[int], config) -> _Reads:
    """The batch's emails with everything their rules and copy need, and the keys of their
    addresses among the suppressions: the longest of the reads (_LookAhead runs it in a slot of
    its own)."""
    contexts = emails_store.sequence_contexts(conn, claimed)
    secret = config.mail.secret_key
    hashes = {email_id: unsubscribe.email_hash(secret, context["email"])
              for email_id, context in contexts.items() if context["step"] != OWNER_ALERT}
    return _Reads(contexts, hashes)


def _read_the_rest(conn, reads: _Reads) -> _Reads:
    """The suppressions of the batch's addresses, its sites, and what its alerts and offers need."""
    contexts, cache = reads.contexts, reads.cache
    # Reads kept for this read (storage._reads, as the applier's batch keeps them): the site's row,
    # its settings and its steps in one query, two round trips fewer before the first exchange.
    with kept_for_transaction(conn):
        reads.suppressed = suppressions_store.reasons(
            conn, {(contexts[email_id]["site_id"], key) for email_id, key in reads.hashes.items()})
        for email_id, context in contexts.items():
            cache.site(conn, context["site_id"])
            if context["step"] == OWNER_ALERT:
                reads.requests[email_id] = emails_store.contact_request_context(conn, context["contact_request_id"])
            elif context["step"] == "offer":
                reads.subscriptions[email_id] = subscriptions_store.find_subscription(
                    conn, context["site_id"], context["source"], context["subscription_external_id"])
    return reads


def _decide_each(writes, reads: _Reads, claimed: list[int], token, config, now, report,
                 later: list[int] | None = None) -> list[_Ready]:
    """The rules applied to each email read (_decide); skips and deferrals recorded on ``writes``."""
    contexts, hashes, cache = reads.contexts, reads.hashes, reads.cache
    ready = []
    for email_id in claimed:
        context = contexts.get(email_id)
        if context is None or context["lease_token"] != token:
            report.lost += 1
            continue
        try:
            reason = reads.suppressed.get((context["site_id"], hashes.get(email_id)))
            decided = _decide(writes, context, reads.requests.get(email_id), reads.subscriptions.get(email_id),
                              reason, token, config, now, cache, coupons=later is None)
        except BadAddress:
            decided = Skip(SkipReason.INVALID_ADDRESS)
        except Exception as error:  # noqa: BLE001 - a bug in one email must not stop the others
            log.exception("could not prepare scheduled email %s", email_id)
            _retry_or_fail(writes, email_id, token, config, now, f"internal error: {type(error).__name__}", report)
            continue
        if decided is _NEEDS_COUPON:
            later.append(email_id)
        elif isinstance(decided, Skip):
            _finish(writes, email_id, token, EmailStatus.SKIPPED, now, report, skip_reason=decided.reason)
        elif isinstance(decided, Defer):
            _finish(writes, email_id, token, EmailStatus.PENDING, now, report, due_at=decided.until,
                    attempts_back=True)
        else:
            alert = context["step"] == OWNER_ALERT
            ready.append(_Ready(email_id, decided, context["site_id"], None if alert else context["member_id"],
                                None if alert else context["email"], hashes.get(email_id),
                                context["contact_request_id"]))
    return ready


def _decide(writes, context, request, subscription, suppression_reason, token, config, now,
            cache, coupons: bool = True) -> Callable[[], Outgoing] | Skip | Defer | object:
    """Apply the rules to one email of the batch: what builds its message (_Ready.build), or why
    it does not go. ``writes``: where a new coupon is stored (the engine or a _Recorder)."""
    site, settings, steps = cache.sites[context["site_id"]]
    if context["step"] == OWNER_ALERT:
        if request is None:
            return Skip(SkipReason.REQUEST_WITHDRAWN)
        if request["answered_at"] is not None:
            return Skip(SkipReason.REQUEST_ANSWERED)
        # Built now: whether it goes at all depends on it (no owner address), and alerts are rare.
        outgoing = compose.owner_alert(context, request, site, settings, config.mail, now)
        return (lambda: outgoing) if outgoing is not None else Skip(SkipReason.NO_OWNER_ADDRESS)
    configured = steps[context["step"]]
    decision = sequences.decide(
        context, configured=configured, settings=settings, zone=sequences.member_timezone(site),
        suppression={"reason": suppression_reason} if suppression_reason else None,
        won_back=context["won_back"], sent_so_far=context["sent_so_far"], now=now,
    )
    if not isinstance(decision, sequences.Send):
        return decision
    if not coupons and context["step"] == "offer" and _needs_coupon(context):
        return _NEEDS_COUPON
    # The coupon is asked for outside any transaction: a slow WordPress must not hold the database.
    offer = (_offer(writes, context, subscription, site, settings, token, now, config.bridge_networks)
             if context["step"] == "offer" else None)
    return functools.partial(compose.sequence_email, context, site, settings, configured.copy_overrides, offer,
                             config.mail, now)


class _RecordConnection:
    """The connection a run records on (dispatch_due keeps one for its batches), with its writes
    not checking the members (emails_store.check_members_on_write) from its opening until it goes
    back to the pool. Kept across batches: opened per batch, its pool checkout and ping, the SET and
    a COMMIT came before a batch's first record, and the SET, a COMMIT and the pool's reset after
    its last, at each batch's start and end, while the mail server waited."""

    def __init__(self, engine: Engine):
        self.engine, self.conn = engine, None

    def __enter__(self) -> "_RecordConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self):
        if self.conn is None:
            conn = self.engine.connect()
            try:
                emails_store.check_members_on_write(conn, False)
                conn.commit()
            except BaseException:
                self.conn = conn
                self.drop()  # never back to the pool without its checks
                raise
            self.conn = conn
        return self.conn

    def drop(self) -> None:
        """After an error: the connection is discarded, the next record opens another."""
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
                conn.close()

    def close(self) -> None:
        if self.conn is None:
            return
        try:
            emails_store.check_members_on_write(self.conn, True)
            self.conn.commit()
            self.conn.close()
            self.conn = None
        except UNAVAILABLE_ERRORS:
            self.drop()  # never back to the pool without its checks


class _Recorder:
    """Where a batch records what happened to its messages while it sends them: one connection
    (_RecordConnection: the run's, else the batch's own; no pool round trip per message), one short
    transaction per record. On MariaDB it writes beside the transaction that holds the members
    (emails_store.check_members_on_write).

    A message's record runs on a thread of its own (``submit``) while the next message's exchange
    goes: the commit, a round trip to MariaDB or a sync of SQLite's WAL, waits on the database,
    not on this process, and was a third of what a message cost when it waited alone. ``wait`` is
    the point where it must be done: before the next message's end of data (the promise that a
    crash duplicates at most one message), before any other use of the connection, and when the
    batch stops sending. One record at a time, so the connection is never used by two threads at
    once; what a record counts is added to the batch's report by ``wait``, in the batch's thread."""

    def __init__(self, engine: Engine, report: BatchReport, worker: ThreadPoolExecutor | None = None,
                 connection: _RecordConnection | None = None):
        self.report = report
        # The run's record thread and connection (dispatch_due), else the batch's own, on first use.
        self.worker, self.own_worker = worker, worker is None
        self.connection, self.own_connection = connection or _RecordConnection(engine), connection is None
        self.pending: Future | None = None

    def __enter__(self) -> "_Recorder":
        return self

    @contextlib.contextmanager
    def begin(self) -> Iterator:
        conn = self.connection.get()
        try:
            with conn.begin():
                yield conn
        except UNAVAILABLE_ERRORS:
            self.connection.drop()  # the next record opens another connection
            raise

    def submit(self, record: Callable[[BatchReport], None]) -> None:
        """Start ``record(report)`` on the recorder's thread; the previous one must be waited for."""
        assert self.pending is None, "one record at a time"
        if self.worker is None:
            self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="farewell-record")
        self.pending = self.worker.submit(self._counted, record)

    @staticmethod
    def _counted(record: Callable[[BatchReport], None]) -> BatchReport:
        counts = BatchReport()
        record(counts)
        return counts

    def wait(self) -> None:
        """Until the record started last is committed; raises what it raised (the database still
        unreachable once DispatchConfig.record_patience is spent)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            self.report.add(pending.result())

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self.wait()
            else:
                with contextlib.suppress(Exception):
                    self.wait()  # what already goes up says more
        finally:
            if self.worker is not None and self.own_worker:
                self.worker.shutdown()
            if self.own_connection:
                self.connection.close()


def _send(engine, session, recorder: _Recorder, ready: list[_Ready], token, config, clock, report,
          ahead: "_LookAhead | None" = None) -> None:
    """Check the messages once more and hand them to the server, one at a time, each recorded as
    soon as it was accepted.

    MariaDB: the members' rows stay locked from the check until the server accepted their
    messages (or ``recheck_after`` has passed: the rest is then checked again); unsubscribe and
    comebacks lock the member before recording, so they are either seen here or recorded after the
    message was accepted. SQLite has one lock for the whole database: holding it during network
    exchanges would stop every request, so there the check comes right before the exchanges, and
    an unsubscribe recorded during them (at most ``recheck_after`` and one exchange) does not stop
    the message.
    """
    hold = is_mysql(engine)
    while ready:
        with engine.connect() as conn:
            transaction = conn.begin()
            stops = _last_check(conn, ready, token, hold)
            if hold:
                ready, refused = _hand_over(recorder, session, ready, stops, token, config, clock, report, ahead)
            try:
                transaction.commit()  # read only: lets go of the members
            except UNAVAILABLE_ERRORS:
                if not hold:
                    raise
                # The database went away after the messages were handed over; each was recorded on its own.
        if not hold:
            ready, refused = _hand_over(recorder, session, ready, stops, token, config, clock, report, ahead)
        if refused is not None:
            item, error = refused
            if isinstance(error, TransportUnavailable):
                _outage(engine, ready, token, config, clock(), error, report)
                return
            _refused(engine, item, error, token, config, clock(), report)


def _last_check(conn, ready: list[_Ready], token, hold: bool) -> dict[int, object]:
    """Why each message may no longer go out (a Skip, _LEASE_LOST or _MOVED), in one query for
    all of them, after taking their members' rows (MariaDB)."""
    if hold:
        emails_store.hold_recipients(conn, sorted({r.member_id for r in ready if r.member_id is not None}))
    now = emails_store.recheck(conn, [r.email_id for r in ready],
                               {r.email_id: r.address_hash for r in ready if r.address_hash is not None})
    stops: dict[int, object] = {}
    for item in ready:
        row = now.get(item.email_id)
        if row is None or row["lease_token"] != token:
            stops[item.email_id] = _LEASE_LOST
        elif item.member_id is None:
            continue  # an owner alert
        elif row["email"] != item.address:
            stops[item.email_id] = _MOVED
        elif row["suppressed"] is not None:
            stops[item.email_id] = Skip(SkipReason.BOUNCED if row["suppressed"] == "bounced"
                                        else SkipReason.UNSUBSCRIBED)
        elif row["resumed_at"] is not None or row["won_back"]:
            stops[item.email_id] = Skip(SkipReason.WON_BACK)
    return stops


def _hand_over(recorder: _Recorder, session, ready: list[_Ready], stops, token, config, clock,
               report, ahead: "_LookAhead | None" = None) -> tuple[list[_Ready], tuple | None]:
    """Send what the check let through, recording each outcome on ``recorder`` (never beside it:
    on MariaDB a write elsewhere would wait for the members held); returns the messages left to send
    (to be checked again) and the refused one with its error, if a refusal stopped the run: it is
    recorded once the members are let go (a bounce suppresses the address, which takes them)."""
    try:
        left = _hand_over_each(recorder, session, ready, stops, token, config, clock, report, ahead)
    except BaseException:
        with contextlib.suppress(Exception):
            recorder.wait()  # what already goes up says more
        raise
    # Nothing goes on past here with a record in flight: the members are let go, a refusal or an
    # outage is recorded, the next check is read (and a failed record raises here).
    recorder.wait()
    return left


def _hand_over_each(recorder: _Recorder, session, ready: list[_Ready], stops, token, config, clock,
                    report, ahead: "_LookAhead | None" = None) -> tuple[list[_Ready], tuple | None]:
    checked_at = time.monotonic()
    for index, item in enumerate(ready):
        stop = stops.get(item.email_id)
        if stop is _LEASE_LOST:
            report.lost += 1
            continue
        if stop is not None:
            recorder.wait()  # the connection is the previous record's until then
            if stop is _MOVED:
                _finish(recorder, item.email_id, token, EmailStatus.PENDING, clock(), report, due_at=clock(),
                        attempts_back=True)
            else:
                _finish(recorder, item.email_id, token, EmailStatus.SKIPPED, clock(), report,
                        skip_reason=stop.reason)
            continue
        item.build()  # unless the exchange before built it
        if item.failure is not None:
            recorder.wait()  # the connection is the previous record's until then
            _unbuilt(recorder, item, token, config, clock(), report)
            continue
        try:
            # The previous message's record commits during this exchange and is waited for before
            # its end of data: the server never holds two accepted messages not recorded sent.
            session.send(item.outgoing, before_end=recorder.wait,
                         meanwhile=_meanwhile(ready, index, stops, session.prepare, recorder, ahead))
        except TransportUnavailable as outage:
            return ready[index:], (item, outage)
        except DeliveryError as error:
            return ready[index + 1:], (item, error)
        recorder.submit(functools.partial(_record_sent, recorder, item, token, config, clock))
        if time.monotonic() - checked_at > config.recheck_after:
            return ready[index + 1:], None
    return [], None


def _next_build(ready: list[_Ready], index: int, stops, prepare) -> Callable[[], None] | None:
    """What builds (and prepares, Sender.prepare: the SMTP session writes its bytes) the next
    message this hand-over will send, if any is left to build."""
    for item in ready[index + 1:]:
        if item.email_id not in stops:
            if item.outgoing is None and item.failure is None:
                return functools.partial(item.build, prepare)
            return None
    return None


def _meanwhile(ready: list[_Ready], index: int, stops, prepare, recorder: _Recorder,
               ahead: "_LookAhead | None") -> Callable[[], None] | None:
    """What a message's slot does: build the next message, then, in the slots of the batch's last
    messages, a stage of the next batch's preparation (_LookAhead.step)."""
    build = _next_build(ready, index, stops, prepare)
    if ahead is None:
        return build
    left = sum(1 for item in ready[index + 1:] if item.email_id not in stops)
    if left >= len(_LookAhead.STAGES):
        return build
    step = functools.partial(ahead.step, recorder, left, prepare)
    if build is None:
        return step

    def both() -> None:
        build()
        step()
    return both


def _unbuilt(recorder: "_Recorder", item: _Ready, token, config, now, report) -> None:
    """A message that could not be built: skipped for an address no header can hold, else
    retried like any other internal error (as when it was built with the batch)."""
    if isinstance(item.failure, BadAddress):
        _finish(recorder, item.email_id, token, EmailStatus.SKIPPED, now, report,
                skip_reason=SkipReason.INVALID_ADDRESS)
        return
    log.error("could not prepare scheduled email %s", item.email_id, exc_info=item.failure)
    _retry_or_fail(recorder, item.email_id, token, config, now, f"internal error: {type(item.failure).__name__}",
                   report)


def _refused(engine, item: _Ready, error: DeliveryError, token, config, now, report) -> None:
    if isinstance(error, RecipientRefused):
        with engine.begin() as conn:
            if item.member_id is not None:  # an owner's address is not suppressed
                for address in item.outgoing.recipients:
                    unsubscribe.suppress_address(conn, config.mail.secret_key, item.site_id, address, "bounced", now)
            _transition(conn, item.email_id, token, EmailStatus.FAILED, now, report, last_error=str(error)[:500])
    elif isinstance(error, PermanentFailure):
        _finish(engine, item.email_id, token, EmailStatus.FAILED, now, report, last_error=str(error)[:500])
    else:
        _retry_or_fail(engine, item.email_id, token, config, now, str(error), report)


def _outage(engine, ready: list[_Ready], token, config, now, outage, report) -> None:
    log.warning("mail transport unavailable, %d email(s) wait: %s", len(ready), outage)
    report.released += _release(engine, [r.email_id for r in ready], token, now, config, str(outage))


def _record_sent(recorder: _Recorder, item: _Ready, token, config: DispatchConfig, clock, report) -> None:
    """Mark an accepted message sent. If the database is unreachable right then, keep trying for
    a while: giving up would leave the email to be taken over and sent a second time."""
    deadline, pause = time.monotonic() + config.record_patience, 0.2
    while True:
        sent_at = clock()
        try:
            with recorder.begin() as conn:
                # _transition to sent, with a statement built once (emails_store.mark_sent): this
                # record is what the next message's "." waits for.
                if emails_store.mark_sent(conn, item.email_id, token, sent_at):
                    report.sent += 1
                    if item.contact_request_id is not None:
                        emails_store.mark_contact_request_alerted(conn, item.contact_request_id, sent_at)
                else:
                    _lost(report, item.email_id, EmailStatus.SENT)
            return
        except UNAVAILABLE_ERRORS:
            if time.monotonic() + pause > deadline:
                log.error("scheduled email %s was accepted by the mail server but could not be recorded as sent; "
                          "it will be taken over when its lease ends and may reach the member twice", item.email_id)
                raise
            log.warning("scheduled email %s was accepted; database unavailable, recording it again in %.1f s",
                        item.email_id, pause)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _needs_coupon(context) -> bool:
    return offers.variant_for(context["reason"]) == "discount" and not context["coupon_code"]


def _offer(writes, context, subscription, site, settings, token, now, bridge_networks) -> offers.Offer:
    """The offer for the member's reason; a discount's coupon is created once and kept on the
    email, so a retry sends the same code."""
    coupon = None
    if offers.variant_for(context["reason"]) == "discount":
        if not _needs_coupon(context):
            coupon = offers.Coupon(context["coupon_code"], context["coupon_expires_at"], settings["discount_percent"])
        else:
            member = {"external_id": context["member_external_id"], "email": context["email"]}
            body = offers.coupon_request(member, subscription, settings["discount_percent"],
                                         settings["coupon_days"], now)
            coupon = offers.create_coupon(site, body, f"coupon_{site['id']}_{context['id']}", bridge_networks)
            code = coupon.code if coupon else settings["default_offer_code"]
            with writes.begin() as write:
                emails_store.store_coupon(write, context["id"], token, code, coupon.expires_at if coupon else None, now)
    return offers.offer_for(context["reason"], settings, coupon)


def _transition(conn, email_id, token, target: EmailStatus, now, report, attempts_back=False, **values) -> bool:
    # Waiting for the daytime or for access to end is not a failed attempt.
    moved = emails_store.transition(conn, email_id, sources_of(target), target.value, now, lease_token=token,
                                    give_back_attempt=attempts_back, **values)
    if not moved:
        _lost(report, email_id, target)
        return False
    counter = {EmailStatus.SENT: "sent", EmailStatus.SKIPPED: "skipped", EmailStatus.FAILED: "failed"}.get(target)
    if counter:
        setattr(report, counter, getattr(report, counter) + 1)
    elif values.get("last_error"):
        report.retrying += 1
    else:
        report.deferred += 1
    return True


def _lost(report, email_id, target: EmailStatus) -> None:
    report.lost += 1
    log.warning("scheduled email %s: lease lost before it could be marked %s", email_id, target.value)


def _finish(database, email_id, token, target, now, report, **values) -> None:
    """``database``: the engine, or the batch's _Recorder while it sends."""
    with database.begin() as conn:
        _transition(conn, email_id, token, target, now, report, **values)


def _retry_or_fail(database, email_id, token, config: DispatchConfig, now, reason: str, report) -> None:
    """``database``: the engine, or the batch's _Recorder while it sends."""
    with database.begin() as conn:
        email = emails_store.get_email(conn, email_id)
        if email["attempts"] >= config.max_attempts:
            _transition(conn, email_id, token, EmailStatus.FAILED, now, report,
                        last_error=f"gave up after {email['attempts']} attempts: {reason}"[:500])
        else:
            _transition(conn, email_id, token, EmailStatus.PENDING, now, report, last_error=reason[:500],
                        due_at=now + config.retry_delay(email["attempts"]))


def _release(engine, email_ids: list[int], token: str, now: datetime, config: DispatchConfig, reason: str,
             pause: bool = True) -> int:
    """Give claimed emails back untouched after an outage (due again after the outage pause) or
    unsent (``pause`` False: due again at once): the attempt is not counted."""
    released = 0
    with engine.begin() as conn:
        for email_id in email_ids:
            released += emails_store.transition(
                conn, email_id, sources_of(EmailStatus.PENDING), EmailStatus.PENDING.value, now, lease_token=token,
                due_at=now + config.outage_pause if pause else now, last_error=reason[:500], give_back_attempt=True)
    return released
