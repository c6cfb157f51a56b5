"""The bounds every purchase must keep, whether it comes over HTTP or from a file."""

from __future__ import annotations

from datetime import datetime

EARLIEST = datetime(1990, 1, 1)
LATEST = datetime(2200, 1, 1)  # far enough for any clock; keeps date arithmetic clear of overflow
MAX_QUANTITY = 1_000_000
MAX_PRICE = 10_000_000.0
