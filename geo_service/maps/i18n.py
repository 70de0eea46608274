"""Message catalogues of the map pages: one JSON file per language in ``locales/``.

German and English are complete; Ukrainian, Arabic and Turkish cover everything a resident
sees. Keys under ``PLANNER_PREFIX`` (the planner's page) are German and English only and fall
back to English. ``tests/maps/test_i18n.py`` fails on any message missing from a catalogue.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from babel import Locale

LOCALES = Path(__file__).parent / "locales"
COMPLETE = ("de", "en")
RESIDENT = ("uk", "ar", "tr")
PLANNER_PREFIX = "planner."
RTL = frozenset({"ar"})


@lru_cache(maxsize=8)
def catalogue(lang: str) -> dict[str, str]:
    """The messages of one language as written in its file."""
    data = json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def messages(lang: str) -> dict[str, str]:
    """Every message for ``lang``: its catalogue over English (German for German)."""
    if lang == "de":
        return dict(catalogue("de"))
    merged = dict(catalogue("en"))
    if (LOCALES / f"{lang}.json").exists():
        merged.update(catalogue(lang))
    return merged


def direction(lang: str) -> str:
    return "rtl" if lang in RTL else "ltr"


def language_names(codes: list[str], lang: str) -> dict[str, str]:
    """Names of languages (e.g. ``uk`` -> "Ukrainisch"), in ``lang``, from CLDR via Babel."""
    locale = Locale.parse(lang)
    return {code: str(locale.languages.get(code, code)) for code in codes}
