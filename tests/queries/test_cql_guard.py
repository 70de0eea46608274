"""The guards in front of the CQL2 parser: the pre-scan counts what the parser would recurse
into and skips only what the parser reads as a string; the parser runs in child processes, so
that a parse that crashes or takes too long costs a 400, never the worker."""

from __future__ import annotations

import asyncio
import os

import pytest

from geo_service.errors import InvalidFilter
from geo_service.queries.cql_parse import (
    FilterLimits,
    check_filter,
    json_nesting,
    parse_filter,
    text_nesting,
)


@pytest.mark.parametrize(("text", "depth"), [
    ("name = 'x'", 0),
    ("(name = 'x')", 1),
    ("NOT (NOT (name = 'x'))", 4),  # NOT and parenthesis each count
    ("a = - - -1", 3),
    ("notes = 1 AND nothing = 2", 0),  # words beginning with NOT are names
    ("name = '((((('", 0),  # inside a string literal
    ("name = 'it''s (' AND (a = 1)", 1),  # a doubled quote does not end the literal
    ('"na((me" = 1', 0),  # a quoted identifier
    ('"a""(" = 1', 0),
    ("name = 'x\\' AND ((a=1))", 2),  # a backslash escapes nothing in CQL2 text
    ("name = 'unclosed (((", 0),  # the parser will refuse it anyway
    (")))((", 2),  # stray closing parentheses do not go below zero
])
def test_text_nesting(text: str, depth: int) -> None:
    assert text_nesting(text) == depth


@pytest.mark.parametrize(("text", "depth"), [
    ('{"op": "=", "args": [{"property": "name"}, "x"]}', 3),
    ('{"op": "=", "args": [{"property": "name"}, "[[[{{{"]}', 3),
    ('{"op": "=", "args": [{"property": "na\\"[[[me"}, 1]}', 3),  # escaped quote in a string
    ('[[[]]]', 3),
])
def test_json_nesting(text: str, depth: int) -> None:
    assert json_nesting(text) == depth


def test_the_limits_are_settings_and_refuse_before_parsing() -> None:
    small = FilterLimits(max_length=20, max_nesting=2)
    with pytest.raises(InvalidFilter, match="zu lang"):
        check_filter("name = 'a very long value'", "cql2-text", small)
    with pytest.raises(InvalidFilter, match="verschachtelt"):
        check_filter("(((a=1)))", "cql2-text", small)
    with pytest.raises(InvalidFilter, match="Nullzeichen"):
        check_filter("a='\x00'", "cql2-text", small)
    check_filter("((a=1))", "cql2-text", small)


def test_a_crash_or_a_hang_of_the_parser_is_a_400_and_the_next_parse_works() -> None:
    """With the pre-scan switched off (limits far too high): 3,000 nested parentheses overflow
    the parser's stack, 24 levels around an error take minutes; both end as a 400 within the
    time limit, in the parser's process, and this process parses on as before."""
    open_limits = FilterLimits(max_length=100_000, max_nesting=100_000, timeout_s=2.0)

    async def scenario() -> list[str]:
        outcomes = []
        for text in ("(" * 3000 + "a = 1" + ")" * 3000,  # stack overflow (SIGSEGV)
                     "(" * 24 + "name = 'x' AND",  # exponential backtracking
                     "name = 'x' AND (a = 1"):  # an ordinary syntax error
            try:
                await parse_filter(text, "cql2-text", open_limits)
                outcomes.append("parsed")
            except InvalidFilter as exc:
                outcomes.append(exc.detail)
        outcomes.append(str(await parse_filter("name = 'x'", None)))
        return outcomes

    died, slow, wrong, fine = asyncio.run(scenario())
    assert "kein lesbares CQL2" in died
    assert "zu aufwendig" in slow
    assert "kein gültiges CQL2" in wrong and "expected" in wrong
    assert fine == str({"op": "=", "args": [{"property": "name"}, "x"]})
    assert os.getpid()  # still here


def test_parsers_are_reused_and_bounded() -> None:
    from geo_service.queries import cql_parse

    async def many() -> tuple[int, int]:
        await asyncio.gather(*(parse_filter(f"name = '{i}'", None) for i in range(20)))
        pool = cql_parse._pool()
        return pool._started, pool._idle.qsize()

    started, idle = asyncio.run(many())
    assert started == idle == 2
