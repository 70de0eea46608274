"""Request values as PostgreSQL can hold them: one check for every number, text and instant.

A value from a query string (``?name=``, ``ids=``, ``datetime=``) or from a CQL2 filter reaches a
bound SQL parameter only through these functions, so a value the database cannot take (an integer
beyond ``bigint``, ``1e308`` for an integer, infinity, a NUL character, a date outside the
calendar) is a 400 with a sentence here, never a driver error and a 500 later.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from geo_service.errors import InvalidParameter
from geo_service.layers import Property

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
#: The largest whole number a float (how CQL2 hands over every number) holds exactly.
EXACT_FLOAT_INT = 2**53
#: The instants a request may name: Python's calendar (years 1 to 9999) less one day at either
#: end, so that every time-zone shift and "to the end of that day" stay inside it.
EARLIEST = dt.date(1, 1, 2)
LATEST = dt.date(9999, 12, 30)

Instant = dt.date | dt.datetime

_TRUE = {"true", "1", "yes", "ja"}
_FALSE = {"false", "0", "no", "nein"}
_TYPE_WORDS = {
    "date": "ein Datum (JJJJ-MM-TT)", "datetime": "ein Zeitpunkt (z. B. 2024-08-19T14:00:00Z)",
}


def shown(value: object, limit: int = 60) -> str:
    """A value as it may appear in an error message: cut short, control characters visible."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_bigint(value: object, what: str) -> int:
    """A whole number that fits PostgreSQL's ``bigint``.

    Accepts an ``int``, a ``float`` without a fractional part (CQL2 hands every number over as
    a float) or a decimal string.

    Examples
    --------
    >>> as_bigint("42", "ids")
    42
    >>> as_bigint(3.0, "filter")
    3
    """
    number: int
    if isinstance(value, bool):
        raise InvalidParameter(f"{what}: »{shown(value)}« ist keine ganze Zahl.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise InvalidParameter(f"{what}: »{shown(value)}« ist keine ganze Zahl.")
        if abs(value) > EXACT_FLOAT_INT:
            # A float holds every whole number only up to 2**53; beyond, 9223372036854775807
            # and 9223372036854775808 are the same float, and the intended value is unknown.
            raise InvalidParameter(
                f"{what}: »{shown(value, 30)}« lässt sich hier nicht genau als ganze Zahl "
                f"darstellen; erlaubt sind -{EXACT_FLOAT_INT} bis {EXACT_FLOAT_INT}."
            )
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise InvalidParameter(f"{what}: »{shown(value)}« ist keine ganze Zahl.") from None
    else:
        raise InvalidParameter(f"{what}: »{shown(value)}« ist keine ganze Zahl.")
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise InvalidParameter(
            f"{what}: »{shown(value, 30)}« liegt außerhalb der ganzen Zahlen, die die Datenbank "
            f"speichert ({BIGINT_MIN} bis {BIGINT_MAX})."
        )
    return number


def as_float(value: object, what: str) -> float:
    """A finite floating-point number (``float8``): no infinity, no NaN, nothing beyond 1.8e308."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidParameter(f"{what}: »{shown(value)}« ist keine Zahl.")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise InvalidParameter(f"{what}: »{shown(value)}« ist keine endliche Zahl.") from None
    if not math.isfinite(number):
        raise InvalidParameter(f"{what}: »{shown(value)}« ist keine endliche Zahl.")
    return number


def as_text(value: str, what: str) -> str:
    """Text PostgreSQL can store: no NUL character, valid Unicode (no lone surrogates)."""
    if "\x00" in value:
        raise InvalidParameter(
            f"{what}: der Text enthält ein Nullzeichen (NUL, %00); entfernen Sie es."
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameter(f"{what}: der Text ist kein gültiges Unicode.") from None
    return value


def in_calendar(value: Instant, what: str) -> Instant:
    """``value`` if it lies between EARLIEST and LATEST (a time compared in UTC)."""
    try:
        day = (value.astimezone(dt.timezone.utc).date() if isinstance(value, dt.datetime)
               else value)
    except OverflowError:
        day = None
    if day is None or not EARLIEST <= day <= LATEST:
        raise _outside_calendar(value.isoformat(), what)
    return value


def parse_instant(text: str, what: str) -> Instant | None:
    """An RFC 3339 date or time (``2024-08-19``, ``2024-08-19T14:00:00Z``) inside the calendar;
    ``None`` for ``..`` or nothing (an open end). A time without an offset is UTC."""
    value = as_text(text, what).strip()
    if value in ("..", ""):
        return None
    try:
        if "T" in value or "t" in value or " " in value:
            stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)
            return in_calendar(stamp, what)
        return in_calendar(dt.date.fromisoformat(value), what)
    except ValueError as exc:
        if "out of range" in str(exc):  # e.g. "year 0 is out of range"
            raise _outside_calendar(value, what) from None
        raise InvalidParameter(
            f"{what}: »{shown(value, 60)}« ist kein Datum und keine Uhrzeit nach RFC 3339 "
            "(z. B. 2024-08-19 oder 2024-08-19T14:00:00Z)."
        ) from None


def _outside_calendar(text: str, what: str) -> InvalidParameter:
    return InvalidParameter(
        f"{what}: »{shown(text, 40)}« liegt außerhalb des Kalenders; Zeitangaben müssen zwischen "
        f"{EARLIEST.isoformat()} und {LATEST.isoformat()} liegen (ein offenes Ende schreibt "
        "man »..«)."
    )


def parse_bool(value: str, what: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidParameter(f"{what}: »{shown(value, 20)}« ist weder true noch false.")


def as_datetime(value: Instant) -> dt.datetime:
    """A date as the first moment of that day in UTC; a time unchanged."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(), tzinfo=dt.timezone.utc)


def coerce(prop: Property, value: Any, what: str | None = None) -> Any:
    """A request value as the property's type, ready to be bound.

    ``value`` is text from a query string or cursor, or a value a CQL2 filter parsed (numbers as
    floats, booleans, strings, ``{"date": …}`` / ``{"timestamp": …}``).
    """
    what = what or prop.name
    if isinstance(value, (dict, list)) and not (
        prop.type in ("date", "datetime") and isinstance(value, dict)
    ):
        raise InvalidParameter(f"{what}: ein einzelner Wert wird erwartet, keine Liste und kein Objekt.")
    if prop.type == "integer":
        return as_bigint(value, what)
    if prop.type == "number":
        return as_float(value, what)
    if prop.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return parse_bool(value, what)
        raise InvalidParameter(f"{what}: »{shown(value)}« ist weder true noch false.")
    if prop.type in ("date", "datetime"):
        if isinstance(value, dict):
            value = value.get("timestamp") or value.get("date")
        if not isinstance(value, str):
            raise InvalidParameter(f"{what}: »{shown(value)}« ist keine Zeitangabe; erwartet wird "
                                   f"{_TYPE_WORDS[prop.type]}.")
        instant = parse_instant(value, what)
        if instant is None:
            raise InvalidParameter(f"{what}: erwartet wird {_TYPE_WORDS[prop.type]}, kein offenes Ende.")
        if prop.type == "date":
            return instant.date() if isinstance(instant, dt.datetime) else instant
        return as_datetime(instant)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # CQL2 hands over ``5`` as 5.0; as text it is "5".
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise InvalidParameter(f"{what}: »{shown(value)}« ist kein Text.")
    return as_text(value, what)
