"""CQL2 text and JSON parsed by ``cql2``, guarded so that no filter can crash or hold a worker.

``cql2`` (Rust, a PEG parser) has two failure modes on hostile input, both measured with cql2
0.6.0 in child processes:

* **Stack overflow.** It parses by recursion; on the default 8 MiB stack the smallest crashing
  inputs were about 3 KB: 1,540 nested parentheses, 3,422 unary minus signs (``a=----…1``),
  3,421 ``NOT``s, 3,080 nested function calls, 1,062 ``-(`` pairs; also 9,030 terms of
  ``1+1+…`` and 16,365 ``AND``-ed comparisons. The whole process dies with a segmentation
  fault, which no ``except`` can catch. (JSON is safe: serde_json stops at depth 128.)
* **Exponential time.** On a syntax error inside nested parentheses it backtracks through every
  alternative at every level: the time doubles with each level and grows with the length, e.g.
  16 unclosed parentheses 1.5 s, 12 levels around 7,500 characters of ``AND``-ed comparisons
  ending in an error 19 s, 20 levels many minutes: a worker blocked for all its clients.

70,000 random inputs (tokens, quotes, NUL, unicode, odd numbers, CQL2 JSON shapes) found no
third kind. So:

1. before parsing, the filter may be at most ``max_length`` characters long, and its nesting,
   counted in a pre-scan that skips string literals and quoted identifiers as cql2 reads them,
   at most ``max_nesting`` (parentheses plus runs of prefix operators ``NOT``, ``-``, ``+`` in
   CQL2 text; arrays and objects in CQL2 JSON): cheap refusals with a clear sentence;
2. the parse itself runs in a child process (two per worker, started on first use, reused),
   awaited without blocking the worker's event loop. A parse that takes longer than
   ``timeout_s`` is killed with its process, and so is a child that dies: the answer is a 400,
   a new child is started, and the worker never notices. Length and nesting limits alone
   cannot bound the time, since it grows as 2^depth × length.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

from geo_service.errors import InvalidFilter

log = logging.getLogger(__name__)

LANGUAGES = ("cql2-text", "cql2-json")


@dataclass(frozen=True)
class FilterLimits:
    """How long and how deeply nested a filter may be (settings ``filter_max_*``)."""

    max_length: int = 8000
    max_nesting: int = 20
    timeout_s: float = 1.0


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


#: The child: one JSON request per line in, one JSON answer per line out, until stdin closes.
_CHILD = r"""
import json, sys
import cql2
for line in sys.stdin:
    text, lang = json.loads(line)
    try:
        expr = cql2.parse_text(text) if lang == "cql2-text" else cql2.parse_json(text)
        answer = {"ok": expr.to_json()}
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        answer = {"error": " ".join(str(exc).split())[:300]}
    except BaseException:  # pyo3 turns a Rust panic into PanicException
        answer = {"error": ""}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
"""
_LINE_LIMIT = 4 * 1024 * 1024


class ParseTimeout(Exception):
    """The parser took longer than its time limit (and was killed)."""


class ParserDied(Exception):
    """The parser's process ended without an answer (e.g. a stack overflow)."""


class _Child:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def parse(self, text: str, lang: str, timeout: float) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps([text, lang]).encode() + b"\n")
            await self.process.stdin.drain()
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except asyncio.TimeoutError:
            raise ParseTimeout from None
        except (BrokenPipeError, ConnectionResetError):
            raise ParserDied from None
        if not line:
            raise ParserDied
        return json.loads(line)  # type: ignore[no-any-return]

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


class ParserPool:
    """Up to ``size`` parser processes for one event loop; each serves one parse at a time."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._idle: asyncio.Queue[_Child] = asyncio.Queue()
        self._started = 0
        self._lock = asyncio.Lock()

    async def _take(self) -> _Child:
        async with self._lock:
            if self._idle.empty() and self._started < self.size:
                self._started += 1
                try:
                    process = await asyncio.create_subprocess_exec(
                        sys.executable, "-c", _CHILD, stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE, limit=_LINE_LIMIT)
                except BaseException:
                    self._started -= 1
                    raise
                return _Child(process)
        return await self._idle.get()

    async def parse(self, text: str, lang: str, timeout: float) -> dict[str, Any]:
        child = await self._take()
        try:
            answer = await child.parse(text, lang, timeout)
        except BaseException:  # timed out, died, or the request was cancelled: never reuse it
            self._started -= 1
            await asyncio.shield(child.kill())
            raise
        self._idle.put_nowait(child)
        return answer


_pools: dict[asyncio.AbstractEventLoop, ParserPool] = {}


def _pool() -> ParserPool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        for old in [known for known in _pools if known.is_closed()]:
            del _pools[old]
        pool = _pools[loop] = ParserPool()
    return pool


async def parse_filter(text: str, lang: str | None,
                       limits: FilterLimits | None = None) -> dict[str, Any]:
    """Parse CQL2 text or JSON into CQL2 JSON, with a readable error for a person."""
    limits = limits or FilterLimits()
    lang = (lang or "cql2-text").lower()
    if lang not in LANGUAGES:
        raise InvalidFilter(
            f"filter-lang »{lang[:40]}« wird nicht unterstützt; erlaubt sind cql2-text und cql2-json."
        )
    check_filter(text, lang, limits)
    try:
        answer = await _pool().parse(text, lang, limits.timeout_s)
    except ParseTimeout:
        log.warning("a CQL2 filter took more than %g s to parse; parser stopped", limits.timeout_s)
        raise InvalidFilter(
            f"Der Filter ist zu aufwendig zu lesen (mehr als {limits.timeout_s:g} s); verwenden "
            "Sie weniger Klammerebenen oder einen kürzeren Filter."
        ) from None
    except ParserDied:
        log.warning("the CQL2 parser process died on a filter; a new one is started")
        raise InvalidFilter(f"Der Filter ist kein lesbares CQL2 ({lang}).") from None
    if "error" in answer:
        detail = f": {answer['error']}" if answer["error"] else "."
        raise InvalidFilter(f"Der Filter ist kein gültiges CQL2 ({lang}){detail}")
    result = answer["ok"]
    if not isinstance(result, dict):
        raise InvalidFilter("Der Filter muss eine Bedingung sein (wahr oder falsch), z. B. "
                            "kind = 'Stadtteilbüro'.")
    return result
