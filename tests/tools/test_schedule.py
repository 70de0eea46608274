"""Recurring offers: moving a rule's start forward by whole repetitions changes no occurrence."""

from __future__ import annotations

import datetime as dt

from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_service.tools.schedule import ANCHOR, BERLIN, _local_day, occurs_on

RULES = [
    "FREQ=DAILY", "FREQ=DAILY;INTERVAL=3", "FREQ=WEEKLY;BYDAY=TU", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
    "FREQ=WEEKLY;INTERVAL=3", "FREQ=WEEKLY;BYDAY=MO;WKST=SU;INTERVAL=2", "FREQ=MONTHLY;BYDAY=1MO",
    "FREQ=MONTHLY;BYMONTHDAY=-1", "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR", "FREQ=MONTHLY",
    "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR", "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24",
    "FREQ=YEARLY;INTERVAL=2", "FREQ=WEEKLY;BYDAY=SA;UNTIL=20270101T000000Z", "FREQ=DAILY;COUNT=30",
    "FREQ=HOURLY;INTERVAL=5;BYHOUR=10", "FREQ=DAILY;BYMONTH=3,10;BYDAY=SU",
]
STARTS = [None, "2024-03-31T10:00:00+02:00", "2023-10-29T02:30:00+01:00",
          "2025-01-31T09:00:00+01:00", "2019-02-28T18:00:00+01:00", "2024-02-29T12:00:00+01:00"]


def _stepping(day: dt.date, start: str | None, recurrence: str) -> bool:
    """The rule evaluated as dateutil steps it, from its own start."""
    first = _local_day(start)
    begin = dt.datetime.combine(first, dt.time(), tzinfo=BERLIN) if first else ANCHOR
    hit = rrulestr(recurrence, dtstart=begin).after(
        dt.datetime.combine(day, dt.time(), tzinfo=BERLIN) - dt.timedelta(microseconds=1), inc=True)
    return hit is not None and hit.date() == day


@settings(max_examples=400, deadline=None)
@given(rule=st.sampled_from(RULES), start=st.sampled_from(STARTS),
       day=st.dates(min_value=dt.date(2018, 1, 1), max_value=dt.date(2040, 12, 31)))
def test_moved_start_gives_the_same_days(rule: str, start: str | None, day: dt.date) -> None:
    assert occurs_on(day, starts_at=start, ends_at=None, recurrence=rule) == _stepping(day, start, rule)


def test_days_at_the_end_of_the_calendar() -> None:
    # Tuesdays every week since 2024: 9999-12-28 is a Tuesday, the 29th is not.
    assert occurs_on(dt.date(9999, 12, 28), starts_at=None, ends_at=None, recurrence="FREQ=WEEKLY;BYDAY=TU")
    assert not occurs_on(dt.date(9999, 12, 29), starts_at=None, ends_at=None, recurrence="FREQ=WEEKLY;BYDAY=TU")
    assert occurs_on(dt.date(9999, 12, 30), starts_at=None, ends_at=None, recurrence="FREQ=DAILY")
