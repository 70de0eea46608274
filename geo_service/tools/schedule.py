"""When offers take place: a single date (start, end) or an iCalendar recurrence rule (RRULE)."""

from __future__ import annotations

import datetime as dt

from dateutil.rrule import rrulestr

from geo_service.tools.opening import BERLIN

#: Phase for rules that repeat every n-th week/month but name no start: an arbitrary Monday.
ANCHOR = dt.datetime(2024, 1, 1, tzinfo=BERLIN)


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
        hit = rule.after(begin - dt.timedelta(microseconds=1), inc=True)  # type: ignore[union-attr]
        return hit is not None and hit.date() == day
    if first is None:
        return False
    return first <= day <= (last or first)
