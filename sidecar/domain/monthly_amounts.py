"""A price as a month's worth: the one conversion behind every monthly revenue figure (the digest's,
the 24 months', the at-risk list's). Daily × 365/12, weekly × 52/12, monthly × 1, yearly ÷ 12;
lifetime plans and unknown intervals have no monthly value.

A module of its own so that the at-risk rules and the digest, which shows their figures, can
both use it without importing each other.
"""

from __future__ import annotations

from decimal import Decimal

CENTS = Decimal("0.01")
MONTHLY_FACTOR = {"day": Decimal(365) / 12, "week": Decimal(52) / 12, "month": Decimal(1), "year": Decimal(1) / 12}
