"""The guards in front of the CQL2 parser: the pre-scan counts what the parser would recurse
into, skips only what the parser reads as a string, and the parser's own thread has stack to
spare even for inputs the pre-scan would not count."""

from __future__ import annotations

import subprocess
import sys

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
    assert parse_filter("name = 'x'", None) == {"op": "=", "args": [{"property": "name"}, "x"]}


def test_the_parser_thread_survives_far_beyond_the_length_limit() -> None:
    """Without any pre-scan, 40,000 characters of the worst constructs found (5 times the length
    limit) parse on the parser's thread; on an ordinary 8 MiB stack 3,100 characters crash the
    process. In a child process, so that a failure cannot take the test run with it."""
    code = (
        "from geo_service.queries.cql_parse import _parser\n"
        "n = 40000\n"
        "for text in ('a=' + '-' * n + '1', '(' * (n // 2) + 'a=1' + ')' * (n // 2),\n"
        "             'a=' + '-(' * (n // 3) + '1' + ')' * (n // 3)):\n"
        "    _parser.parse(text, 'cql2-text')\n"
        "print('survived')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and "survived" in result.stdout, result.stderr[-500:]
