"""Opening hours (OSM syntax) in Europe/Berlin time with Lower Saxony's public holidays."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import opening_hours

BERLIN = ZoneInfo("Europe/Berlin")


@lru_cache(maxsize=4096)
def _parsed(expression: str) -> opening_hours.OpeningHours:
    return opening_hours.OpeningHours(expression, country="DE", timezone=BERLIN)


def valid(expression: str) -> bool:
    """Whether ``expression`` is valid OSM ``opening_hours`` syntax."""
    return bool(opening_hours.validate(expression))


@lru_cache(maxsize=16)
def _calendars(year: int) -> tuple[dict[dt.date, str], dict[dt.date, str]]:
    national = holidays.Germany(years=[year - 1, year, year + 1])
    lower_saxony = holidays.Germany(subdiv="NI", years=[year - 1, year, year + 1])
    return dict(national), dict(lower_saxony)


def _stand_in(moment: dt.datetime) -> dt.datetime:
    """For a holiday of Lower Saxony that Germany as a whole does not keep (Reformationstag),
    the parser's German calendar does not know it: evaluate at the same weekday and time on the
    nearest nationwide holiday instead, so that ``PH`` rules apply."""
    national, lower_saxony = _calendars(moment.year)
    day = moment.date()
    if day not in lower_saxony or day in national:
        return moment
    candidates = [d for d in national if d.weekday() == day.weekday()]
    if not candidates:
        return moment
    nearest = min(candidates, key=lambda d: abs((d - day).days))
    return dt.datetime.combine(nearest, moment.timetz())


def is_open(expression: str | None, moment: dt.datetime) -> bool | None:
    """True/False for a valid expression at ``moment`` (naive = Berlin time); None if unknown."""
    if not expression:
        return None
    try:
        parsed = _parsed(expression)
    except (SyntaxError, ValueError):
        return None
    local = moment.astimezone(BERLIN) if moment.tzinfo else moment.replace(tzinfo=BERLIN)
    local = _stand_in(local)
    if parsed.is_unknown(local.replace(tzinfo=None)):
        return None
    return bool(parsed.is_open(local.replace(tzinfo=None)))
