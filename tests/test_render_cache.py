"""The sequence emails' HTML is inlined once per email, language and site, and each member's page
is that one with the member's values filled in (sidecar.mail.render._cached_html). What must hold:
the page is byte for byte the one rendered from scratch, whatever the member's values (escaped
by Jinja, then read and written again by css-inline), and CSS is not inlined again per member.
Likewise a header value is parsed and folded once (sidecar.mail.message), and the bytes are those
of a message whose every header was parsed and folded afresh.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from sidecar.domain.compose import MEMBER_VALUES
from sidecar.mail import catalog, render
from sidecar.mail import message as mime

SITE = {"site_name": "Le Club Hélène", "site_url": "https://club.example.org", "support_email": "aide@club.example",
        "sender_name": "Hélène", "percent": 20, "news_url": None, "offer_text": None}

# What members and sites send: accents, apostrophes, markup, ampersands, quotes, spaces at the
# ends, joiners inside emoji, line breaks that came in before they were cleaned, nothing at all.
NAMES = ["Zoë", "O'Brien", "Jean  Dupont", "<b>Bob</b>", "Tom & Jerry", 'Le "Boss"', " Zoé ", "Zoé\u00a0Li",
         "👩\u200d💻 Ada", "日本語", "Zoë\nEve", "a&amp;b", "\ue0001\ue001", "", None]


def variables_for(first_name, code="BIENVENUE20", survey=True) -> tuple[dict, dict]:
    variables = {**SITE, "first_name": first_name, "plan_name": "Or & Argent" if first_name == "Tom & Jerry" else "Or",
                 "access_ends": "1er janvier 2027", "survey_url": "https://club.example.org/?farewell_survey=tok.en"
                 if survey else None, "code": code, "expires": "3 décembre 2026"}
    context = {"site_url": SITE["site_url"], "survey_url": variables["survey_url"],
               "access_ends": variables["access_ends"], "unsubscribe_url": "https://farewell.example.org/u/tok",
               "postal_address": "1 rue de la Paix\n75002 Paris",
               "offer": {"variant": "discount", "code": code, "percent": 20, "news_url": None, "text": None}}
    return variables, context


def from_scratch(kind, language, variables, context, subject_block="subject") -> str:
    return render.render(kind, language, variables, context, None, subject_block).html


@pytest.fixture
def inlining(monkeypatch):
    """Counts the pages css-inline reads."""
    calls = []
    inliner = render._inliner

    class Counting:
        def inline(self, html):
            calls.append(html)
            return inliner.inline(html)

    monkeypatch.setattr(render, "_inliner", Counting())
    monkeypatch.setattr(render, "_HTML_CACHE", {})
    return calls


@pytest.mark.parametrize("key", ["farewell", "feedback", "door_open", "offer"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_each_members_page_is_the_page_rendered_from_scratch(key, language, inlining):
    kind = catalog.KINDS[key]
    subject_block = "subject_discount" if key == "offer" else "subject"
    for first_name in ["Ana", *NAMES, "Ana"]:
        for code in ("BIENVENUE20", "A&B<1>", None):
            variables, context = variables_for(first_name, code)
            cached = render.render(kind, language, variables, context, None, subject_block, member=MEMBER_VALUES)
            assert cached.html == from_scratch(kind, language, variables, context, subject_block), (first_name, code)


def test_css_is_inlined_once_per_email_language_and_site_not_per_member(inlining):
    kind = catalog.KINDS["farewell"]
    members = [f"Membre {n}" for n in range(50)] + ["O'Brien", "Zoë", "日本語"]
    for name in members:
        variables, context = variables_for(name)
        render.render(kind, "fr", variables, context, member=MEMBER_VALUES)
    # The first member's page is inlined twice (with slots, and from scratch to compare them).
    assert len(inlining) == 2
    # A member without a survey link gets another page (the template leaves the survey out), once.
    for name in members[:10]:
        variables, context = variables_for(name, survey=False)
        render.render(kind, "fr", variables, context, member=MEMBER_VALUES)
    assert len(inlining) == 4
    # A value that escaping would change is never filled into a kept page: its page is rendered.
    variables, context = variables_for("Tom & Jerry")
    render.render(kind, "fr", variables, context, member=MEMBER_VALUES)
    assert len(inlining) == 5


def test_a_site_whose_copy_breaks_the_slots_is_rendered_from_scratch(inlining):
    """An owner's override holding the slot marker itself: the cached page would differ, so the
    site's pages are rendered from scratch, and still right."""
    kind = catalog.KINDS["farewell"]
    overrides = {"fr": {"intro": "Merci \ue0000\ue001 !"}}
    for name in ("Ana", "Bob", "Chloé"):
        variables, context = variables_for(name)
        page = render.render(kind, "fr", variables, context, overrides, member=MEMBER_VALUES).html
        assert page == render.render(kind, "fr", variables, context, overrides).html
        assert "Merci \ue0000\ue001 !" in page


# --- headers: parsed and folded once per value -------------------------------------------------

LONG_SUBJECT = "Votre résiliation « Le Club Hélène — Marie-Françoise de La Tour d’Auvergne » est confirmée " * 2


def message_bytes(first_name: str, subject: str, n: int) -> bytes:
    rendered = render.Rendered(subject=subject, text=f"Bonjour {first_name},\n", html=f"<p>Bonjour {first_name}</p>\n")
    message = mime.build(
        rendered, sender=mime.address("farewell@mail.example.org", "Le Club Hélène"),
        to=[mime.address(f"m{n}@example.org", first_name)], message_id=f"<farewell.s.{n}@mail.example.org>",
        date=datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc), reply_to=mime.address("aide@club.example", "Le Club"),
        unsubscribe_url=f"https://farewell.example.org/u/{'t' * 80}{n}")
    message.set_boundary("===boundary===")
    as_in_a_maildir = message.as_bytes()  # the same headers folded with \n first
    return as_in_a_maildir + message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


@pytest.mark.parametrize("first_name", ["Zoë", "O'Brien", 'Le "Boss"', "Anne, Marie", "日本語の名前", LONG_SUBJECT[:90]])
@pytest.mark.parametrize("subject", ["Votre résiliation Le Club est confirmée", LONG_SUBJECT, "=?utf-8?q?abc?="])
def test_headers_kept_from_earlier_messages_give_the_same_bytes(first_name, subject, monkeypatch):
    warm = [message_bytes(first_name, subject, n) for n in range(3)]
    # Nothing kept: every header parsed and folded afresh.
    monkeypatch.setattr(mime, "_PARSED", {})
    monkeypatch.setattr(mime, "_FOLDED", {})
    monkeypatch.setattr(mime, "_remember", lambda cache, key, value: None)
    assert warm == [message_bytes(first_name, subject, n) for n in range(3)]


def test_a_header_value_seen_before_is_not_parsed_again():
    first, second = (mime.build(render.Rendered("Sujet", "texte\n", "<p>html</p>\n"),
                                sender=mime.address("farewell@mail.example.org", "Le Club"), to=[mime.address(a)],
                                message_id=f"<{a}>", date=datetime(2026, 12, 1, tzinfo=timezone.utc))
                     for a in ("a@example.org", "b@example.org"))
    assert first["From"] is second["From"] and first["Subject"] is second["Subject"]


def test_a_message_like_the_one_before_builds_no_header_class(monkeypatch):
    """The email package made a header class for every header set, only to read how many of that
    header a message may carry (the answer is the name's): kept by name now."""
    def build(n: int):
        return mime.build(render.Rendered("Sujet", "texte\n", "<p>html</p>\n"),
                          sender=mime.address("farewell@mail.example.org", "Le Club"), to=[mime.address("a@example.org")],
                          message_id="<farewell.s.1@mail.example.org>", date=datetime(2026, 12, 1, tzinfo=timezone.utc),
                          unsubscribe_url="https://farewell.example.org/u/tok")

    first = build(1).as_bytes()
    made = []
    registry = type(mime.POLICY.header_factory)
    lookup = registry.__getitem__
    monkeypatch.setattr(registry, "__getitem__", lambda self, name: made.append(name) or lookup(self, name))
    assert build(2).as_bytes() == first
    assert made == []


# --- the text part: lines wrapped once ----------------------------------------------------------


def test_the_text_part_wraps_only_the_lines_that_differ_from_one_member_to_the_next(monkeypatch):
    kind = catalog.KINDS["farewell"]
    for name in ["Ana", *NAMES]:  # warm, and each text as from scratch
        variables, context = variables_for(name)
        text = render.render(kind, "fr", variables, context, member=MEMBER_VALUES).text
        render._wrapped.cache_clear()
        assert text == render.render(kind, "fr", variables, context, member=MEMBER_VALUES).text, name
    wrapped = []
    fill = render.textwrap.fill
    monkeypatch.setattr(render.textwrap, "fill", lambda line, *a, **k: wrapped.append(line) or fill(line, *a, **k))
    variables, context = variables_for("Bérénice")
    render.render(kind, "fr", variables, context, member=MEMBER_VALUES)
    assert all("Bérénice" in line for line in wrapped), wrapped  # the others were wrapped before
