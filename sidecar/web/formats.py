"""How values look in JSON answers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds").replace("+00:00", "Z")


def money(value: Decimal | None) -> str | None:
    """At least two decimals ("29.00"), more only when the amount has them ("0.1234")."""
    if value is None:
        return None
    cents = value.quantize(Decimal("0.01"))
    return str(cents) if cents == value else str(value.normalize())
