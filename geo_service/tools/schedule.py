"""When offers take place: a single date (start, end) or an iCalendar recurrence rule (RRULE)."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, SECONDLY, WEEKLY, YEARLY, rrule, rrulestr

from geo_service.tools.opening import BERLIN

#: Phase for rules that repeat every n-th week/month but name no start: an arbitrary Monday.
ANCHOR = dt.datetime(2024, 1, 1, tzinfo=BERLIN)
#: Periods of a fixed length (wall-clock time), per FREQ.
_FIXED = {WEEKLY: dt.timedelta(days=7), DAILY: dt.timedelta(days=1),
          HOURLY: dt.timedelta(hours=1), MINUTELY: dt.timedelta(minutes=1),
          SECONDLY: dt.timedelta(seconds=1)}


def _started_near(rule: object, begin: dt.datetime) -> object:
    """The same rule with its start moved forward by whole repetitions to shortly before
    ``begin``, so that finding the next occurrence costs a few steps instead of one step per
    day (or hour) since the start (a daily rule since 2024 asked about 2099: 27,000 steps).

    Moving by whole periods (``INTERVAL`` × FREQ) keeps every occurrence: the rule's implicit
    parts (weekday, day of month, time of day) come from the start and do not change. Not moved:
    rules with COUNT (the count runs from the start), rule sets, and monthly or yearly rules
    starting after the 28th (the day would not exist in every month).
    """
    if not isinstance(rule, rrule):
        return rule
    # dateutil keeps these only as private attributes (stable since dateutil 2.0).
    start, freq, interval = rule._dtstart, rule._freq, rule._interval  # type: ignore[attr-defined]
    if rule._count is not None or start is None or start >= begin:  # type: ignore[attr-defined]
        return rule
    moved: dt.datetime | None = None
    if freq in _FIXED:
        step = _FIXED[freq] * interval
        periods = (begin.replace(tzinfo=None) - start.replace(tzinfo=None)) // step - 1
        if periods > 0:
            moved = start + step * periods
    elif freq in (MONTHLY, YEARLY) and start.day <= 28:
        if freq == MONTHLY:
            months = (begin.year - start.year) * 12 + begin.month - start.month - 1
            periods = months // interval
            moved = start + relativedelta(months=periods * interval) if periods > 0 else None
        else:
            periods = (begin.year - start.year - 1) // interval
            moved = start + relativedelta(years=periods * interval) if periods > 0 else None
    return rule.replace(dtstart=moved) if moved is not None else rule


def _local_day(value: dt.datetime | str | None) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=BERLIN)
    return value.astimezone(BERLIN).date()


def occurs_on(day: dt.date, *, starts_at: dt.datetime | str | None,
              ends_at: dt.datetime | str | None, recurrence: str | None) -> bool:
    """Whether an offer takes place on ``day`` (Europe/Berlin).

    Offers with neither a date nor a rule ("nach Absprache") are not counted as taking place.

    Examples
    --------
    >>> occurs_on(dt.date(2026, 11, 24), starts_at=None, ends_at=None, recurrence="FREQ=WEEKLY;BYDAY=TU")
    True
    >>> occurs_on(dt.date(2024, 8, 19), starts_at="2024-08-19T14:00:00+02:00", ends_at=None, recurrence=None)
    True
    """
    first, last = _local_day(starts_at), _local_day(ends_at)
    if recurrence:
        try:
            start = dt.datetime.combine(first, dt.time(), tzinfo=BERLIN) if first else ANCHOR
            rule = rrulestr(recurrence, dtstart=start)
        except (ValueError, TypeError):
            return False
        if last is not None and day > last:
            return False
        begin = dt.datetime.combine(day, dt.time(), tzinfo=BERLIN)
        rule = _started_near(rule, begin)
        hit = rule.after(begin - dt.timedelta(microseconds=1), inc=True)  # type: ignore[union-attr]
        return hit is not None and hit.date() == day
    if first is None:
        return False
    return first <= day <= (last or first)
