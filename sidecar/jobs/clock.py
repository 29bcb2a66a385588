"""The jobs' sense of time: the real clock, or an accelerated one for demos."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable

Clock = Callable[[], datetime]


def real_clock() -> datetime:
    return datetime.now(timezone.utc)


def accelerated_clock(speed: float) -> Clock:
    """A clock that starts now and runs ``speed`` times faster than real time (1 = the real clock)."""
    if speed == 1:
        return real_clock
    started, mono = datetime.now(timezone.utc), time.monotonic()

    def now() -> datetime:
        return started + timedelta(seconds=(time.monotonic() - mono) * speed)

    return now
