"""Opening hours (OSM ``opening_hours``) in words, with day names from CLDR (Babel)."""

from __future__ import annotations

import re

from babel import Locale

_DAYS = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]
_DAY_PART = r"(?:Mo|Tu|We|Th|Fr|Sa|Su|PH)(?:-(?:Mo|Tu|We|Th|Fr|Sa|Su))?"
_RULE = re.compile(rf"^(?P<days>{_DAY_PART}(?:,{_DAY_PART})*)?\s*(?P<times>.*)$")
_TIMES = re.compile(r"^\d{2}:\d{2}-\d{2}:\d{2}(?:,\d{2}:\d{2}-\d{2}:\d{2})*$")


def _days(spec: str, names: list[str], messages: dict[str, str]) -> str:
    parts = []
    for piece in spec.split(","):
        if piece == "PH":
            parts.append(messages["hours.holidays"])
        elif "-" in piece:
            first, last = piece.split("-")
            parts.append(f"{names[_DAYS.index(first)]}–{names[_DAYS.index(last)]}")
        else:
            parts.append(names[_DAYS.index(piece)])
    return ", ".join(parts)


def describe(expression: str | None, lang: str, messages: dict[str, str]) -> str | None:
    """``"Mo-Th 09:00-16:00; PH off"`` -> ``"Montag–Donnerstag 09:00–16:00; an Feiertagen
    geschlossen"``. Rules it cannot read are shown as written rather than guessed at.

    Examples
    --------
    >>> describe("Mo,We 09:00-12:00", "en", {"hours.holidays": "public holidays",
    ...          "hours.closed": "closed", "hours.ph_off": "closed on public holidays",
    ...          "hours.always": "open around the clock"})
    'Monday, Wednesday 09:00–12:00'
    """
    if not expression:
        return None
    if expression.strip() == "24/7":
        return messages["hours.always"]
    names = [str(Locale.parse(lang).days["format"]["wide"][i]) for i in range(7)]
    out = []
    for rule in (r.strip() for r in expression.split(";")):
        if not rule:
            continue
        match = _RULE.match(rule)
        days, times = (match.group("days"), match.group("times").strip()) if match else (None, rule)
        if days == "PH" and times in ("off", "closed"):
            out.append(messages["hours.ph_off"])
            continue
        if times in ("off", "closed"):
            words = messages["hours.closed"]
        elif _TIMES.match(times):
            words = times.replace("-", "–").replace(",", ", ")
        else:
            out.append(rule)
            continue
        out.append(f"{_days(days, names, messages)} {words}" if days else words)
    return "; ".join(out)
