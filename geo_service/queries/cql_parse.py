"""CQL2 text and JSON parsed by ``cql2``, guarded so that no filter can crash the process.

``cql2`` (Rust) parses by recursion. A deeply nested filter overflows the stack and the whole
process dies with a segmentation fault, which no ``except`` can catch. Measured with cql2 0.6.0
on the default 8 MiB stack, the smallest crashing inputs were about 3 KB: 1,540 nested
parentheses, 3,422 unary minus signs (``a=----…1``), 3,421 ``NOT``s, 3,080 nested function
calls; 9,030 terms of ``1+1+…`` (18 KB) and 16,365 ``AND``-ed comparisons (130 KB). JSON is
safe: serde_json refuses nesting beyond 128 with an error. No other crash was found (random
inputs of tokens, numbers, quotes, NUL, unicode; bench notes in the commit).

So, before the parser runs:

1. the filter may be at most ``max_length`` characters long;
2. its nesting, counted in a pre-scan that skips string literals and quoted identifiers, may be
   at most ``max_nesting``: parentheses plus runs of prefix operators (``NOT``, ``-``, ``+``) in
   CQL2 text, arrays and objects in CQL2 JSON;
3. and it is parsed on a thread of its own with a 256 MiB stack (address space only; pages are
   touched only as deep as the parse goes), so even a construct the pre-scan does not count needs
   far more than ``max_length`` characters to exhaust it (the worst found takes about 2.7 KB of
   stack per character: 256 MiB last for about 97,000 of them).

A separate process for parsing was not needed: every crash found is stack depth, which the
three guards bound; a process hop would cost more than the parse itself.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import cql2

from geo_service.errors import InvalidFilter

PARSER_STACK_BYTES = 256 * 1024 * 1024
LANGUAGES = ("cql2-text", "cql2-json")


@dataclass(frozen=True)
class FilterLimits:
    """How long and how deeply nested a filter may be (settings ``filter_max_*``)."""

    max_length: int = 8000
    max_nesting: int = 40


def text_nesting(text: str) -> int:
    """The deepest nesting of a CQL2 text: open parentheses plus the current run of prefix
    operators (``NOT``, ``-``, ``+``). String literals ('…', with '' inside) and quoted
    identifiers ("…", with "" inside) are skipped; an unclosed one runs to the end.

    Examples
    --------
    >>> text_nesting("name = 'a(b' AND (kind = 'x' OR NOT (a > -1))")
    3
    """
    depth = deepest = run = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            j = i + 1
            while j < n:
                if text[j] == c:
                    if j + 1 < n and text[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            i, run = j + 1, 0
            continue
        if c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_:."):
                j += 1
            run = run + 1 if text[i:j].upper() == "NOT" else 0
            i = j
        else:
            if c == "(":
                depth += 1
            elif c == ")":
                depth, run = max(0, depth - 1), 0
            elif c in "+-":
                run += 1
            elif not c.isspace():
                run = 0
            i += 1
        deepest = max(deepest, depth + run)
    return deepest


def json_nesting(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped).

    Examples
    --------
    >>> json_nesting('{"op": "=", "args": [{"property": "name"}, "[[["]}')
    3
    """
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
    return deepest


def check_filter(text: str, lang: str, limits: FilterLimits) -> None:
    """Refuse, with a sentence, what the parser must not see."""
    if len(text) > limits.max_length:
        raise InvalidFilter(
            f"Der Filter ist mit {len(text)} Zeichen zu lang; erlaubt sind höchstens "
            f"{limits.max_length}. Vereinfachen Sie ihn (z. B. IN (…) statt vieler OR)."
        )
    if "\x00" in text:
        raise InvalidFilter("Der Filter enthält ein Nullzeichen (NUL, %00); entfernen Sie es.")
    nesting = json_nesting(text) if lang == "cql2-json" else text_nesting(text)
    if nesting > limits.max_nesting:
        what = ("Arrays und Objekte" if lang == "cql2-json"
                else "Klammern und vorangestellte NOT, - oder +")
        raise InvalidFilter(
            f"Der Filter ist zu tief verschachtelt ({what}: {nesting} Ebenen, erlaubt sind "
            f"höchstens {limits.max_nesting})."
        )


def _parse(text: str, lang: str) -> Any:
    expr = cql2.parse_text(text) if lang == "cql2-text" else cql2.parse_json(text)
    return expr.to_json()


class _ParserThread:
    """One long-lived thread with a large stack that runs the parser; callers wait for it."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], str, str]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while True:
            future, text, lang = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(_parse(text, lang))
            except BaseException as exc:  # pyo3 turns a Rust panic into PanicException
                future.set_exception(exc)

    def _ensure(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            # threading.stack_size applies to threads started afterwards, process-wide: set it
            # for this one start only.
            previous = threading.stack_size(PARSER_STACK_BYTES)
            try:
                self._thread = threading.Thread(target=self._run, name="cql2-parser", daemon=True)
                self._thread.start()
            finally:
                threading.stack_size(previous)

    def parse(self, text: str, lang: str) -> Any:
        self._ensure()
        future: Future[Any] = Future()
        self._jobs.put((future, text, lang))
        return future.result()


_parser = _ParserThread()


def parse_filter(text: str, lang: str | None, limits: FilterLimits | None = None) -> dict[str, Any]:
    """Parse CQL2 text or JSON into CQL2 JSON, with a readable error for a person."""
    lang = (lang or "cql2-text").lower()
    if lang not in LANGUAGES:
        raise InvalidFilter(
            f"filter-lang »{lang[:40]}« wird nicht unterstützt; erlaubt sind cql2-text und cql2-json."
        )
    check_filter(text, lang, limits or FilterLimits())
    try:
        result = _parser.parse(text, lang)
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        first = " ".join(str(exc).strip().splitlines())
        raise InvalidFilter(f"Der Filter ist kein gültiges CQL2 ({lang}): {first[:300]}") from exc
    except Exception as exc:  # pyo3's PanicException (a Rust panic) derives from BaseException
        raise InvalidFilter(f"Der Filter ist kein gültiges CQL2 ({lang}).") from exc
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise InvalidFilter(f"Der Filter ist kein gültiges CQL2 ({lang}).") from exc
    if not isinstance(result, dict):
        raise InvalidFilter("Der Filter muss eine Bedingung sein (wahr oder falsch), z. B. "
                            "kind = 'Stadtteilbüro'.")
    return result
