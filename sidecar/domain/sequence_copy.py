"""An owner's changes to one step of the sequence, from the dashboard: whether it is sent, its
delay, and its copy in one language.

Only what differs from the default copy is kept (``copy_overrides``): a later improvement of the
default text still reaches the sites that did not rewrite that block.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from ..mail import catalog
from ..mail.render import OVERRIDE_MAX, SUBJECT_MAX
from ..storage import site_settings as settings_store
from .sequences import MAX_STEP_DELAY, configured_steps


class StepEditError(ValueError):
    """What is wrong with an edited step, as ``(message key, values)`` pairs for the page to word:
    ``("too_long", {"field": block})``, ``("invalid_delay", {})``."""

    def __init__(self, problems: list[tuple[str, dict]]):
        super().__init__(", ".join(key for key, _values in problems))
        self.problems = problems


def copy_problems(kind, typed: dict[str, str]) -> list[tuple[str, dict]]:
    """The blocks longer than a subject or a paragraph may be."""
    return [("too_long", {"field": block}) for block in kind.blocks()
            if len(typed.get(block, "")) > (SUBJECT_MAX if block.startswith("subject") else OVERRIDE_MAX)]


def overrides_after_edit(kind, language: str, typed: dict[str, str], overrides: dict) -> dict:
    """The step's overrides once ``language``'s blocks are as ``typed``: a block equal to the
    default copy, or left empty, goes back to the default; the other languages stay as they were
    (a broken entry, not a mapping of blocks, is dropped). A language with nothing left is removed."""
    defaults = kind.copy[language]
    kept = {lang: dict(blocks) for lang, blocks in overrides.items() if isinstance(blocks, dict)}
    kept[language] = {block: text for block, text in typed.items()
                      if text and text != defaults.get(block, "").strip()}
    return {lang: blocks for lang, blocks in kept.items() if blocks}


def delay_for_editor(delay: timedelta) -> tuple[int, str]:
    """How the editor shows a delay: in days, or in hours below one day or when it is not a whole
    number of days (30 hours stays 30 hours rather than becoming 1.25 days)."""
    hours = int(delay.total_seconds() // 3600)
    return (hours // 24, "days") if hours >= 24 and hours % 24 == 0 else (hours, "hours")


def delay_hours_from(value: str, unit: str) -> str:
    """A delay typed as a number of ``unit`` ("days" or "hours"), as whole hours for save_step;
    "" (refused there as invalid_delay) for anything else."""
    value = (value or "").strip()
    if unit == "hours":
        return value
    if unit == "days" and value.isascii() and value.isdigit() and len(value) <= 6:
        return str(int(value) * 24)
    return ""


def save_step(engine: Engine, site_id: str, step: str, language: str, typed: dict[str, str], enabled: bool,
              delay_hours: str | int | None, now: datetime) -> dict:
    """Check and keep an edited step; returns its copy overrides as stored. ``typed``: the step's
    blocks in ``language`` as the owner left them (an empty block = the default). ``delay_hours``:
    whole hours, up to MAX_STEP_DELAY. Raises StepEditError with every problem, changing nothing."""
    kind = catalog.KINDS[step]
    problems = copy_problems(kind, typed)
    try:
        hours = int(delay_hours)
        if not 0 <= hours <= MAX_STEP_DELAY.total_seconds() // 3600:
            raise ValueError
    except (TypeError, ValueError):
        problems.append(("invalid_delay", {}))
    if problems:
        raise StepEditError(problems)
    with engine.begin() as conn:
        configured = configured_steps(conn, site_id)[step]
        overrides = overrides_after_edit(kind, language, typed, configured.copy_overrides)
        settings_store.save_step(conn, site_id, step, {
            "enabled": enabled, "delay_seconds": hours * 3600,
            "copy_overrides": json.dumps(overrides, ensure_ascii=False) if overrides else None}, now)
    return overrides
