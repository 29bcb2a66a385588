"""Every email Farewell sends: one small description each (its key and the variables its copy
may use); what it says, in English and French, is its ``email.<key>`` section of sidecar.i18n.

An email is a pair of templates (``templates/email/<key>.txt`` and ``.html``, both extending the
shared layout) plus the description below. The copy is in blocks the templates place, the subject
a block like the others; the copy may use the variables (written ``{first_name}``). A site may
override any block per language (``sequence_steps.copy_overrides``); the templates never change.
Which emails are marketing, and when each is due, is the sequence's (sidecar.domain.sequences).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .. import i18n
from ..storage.statuses import OWNER_ALERT_STEP


@dataclass(frozen=True)
class EmailKind:
    key: str
    variables: tuple[str, ...]

    @property
    def copy(self) -> dict[str, Mapping[str, str]]:
        """{language: {block name: text}}, from the catalogs."""
        return {language: i18n.section(language, f"email.{self.key}") for language in i18n.LANGUAGES}

    def blocks(self) -> tuple[str, ...]:
        return tuple(i18n.section("en", f"email.{self.key}"))


_MEMBER_VARIABLES = ("first_name", "site_name", "site_url", "plan_name", "support_email", "sender_name")

FAREWELL = EmailKind(
    key="farewell",
    variables=(*_MEMBER_VARIABLES, "access_ends", "survey_url"),
)

FEEDBACK = EmailKind(
    key="feedback",
    variables=(*_MEMBER_VARIABLES, "survey_url"),
)

OFFER = EmailKind(
    key="offer",
    variables=(*_MEMBER_VARIABLES, "percent", "code", "expires", "news_url", "offer_text"),
)

DOOR_OPEN = EmailKind(
    key="door_open",
    variables=_MEMBER_VARIABLES,
)

OWNER_ALERT = EmailKind(
    key=OWNER_ALERT_STEP,  # storage's queries single it out
    variables=("member_name", "member_email", "contact", "site_name", "requested_at"),
)

# The owners' weekly digest. Not a member email: no greeting, no unsubscribe link; its footer says
# how to change the day, the hour or the recipients. Labels for reasons come from the survey; the
# other labels the digest shows are blocks of its section too, so both languages stay complete.
DIGEST = EmailKind(
    key="digest",
    variables=("site_name", "week_label", "dashboard_url"),
)

KINDS: dict[str, EmailKind] = {kind.key: kind for kind in (FAREWELL, FEEDBACK, OFFER, DOOR_OPEN, OWNER_ALERT)}
# The digest is sent by sidecar.domain.digest, not by the dispatcher: it is not a scheduled email step.
OWNER_KINDS: dict[str, EmailKind] = {DIGEST.key: DIGEST}
