"""How the pages write figures: thousands separated, shares as percentages, moments in UTC."""

from __future__ import annotations

from datetime import datetime, timedelta

from jinja2 import Environment


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def moment(value: datetime | str | None) -> str:
    """A time as "2011-12-09 12:50 UTC" (an ISO string or a naive UTC datetime)."""
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.removesuffix("Z"))
    return value.strftime("%Y-%m-%d %H:%M UTC")


def hours(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 48:
        return f"{value:.1f} h"
    return f"{value / 24:.1f} days"


def install(env: Environment) -> None:
    env.filters.update(number=number, percent=percent, moment=moment, hours=hours)
    env.globals["timedelta"] = timedelta
    env.autoescape = True
