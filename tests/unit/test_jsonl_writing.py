"""Written JSON stays one line per record for every line splitter."""

from __future__ import annotations

import orjson
import pytest

from batchrelay.jsonl import dumps_line, escape_line_breaks, escape_line_breaks_text

BREAKS = "a\u2028b\u2029c\x85d\r\x0b\x0c\x1c\x1d\x1e\ne"


def test_orjson_alone_leaves_u2028_u2029_and_u0085_raw():
    assert len(orjson.dumps(BREAKS).decode().splitlines()) > 1


def test_a_line_splits_once_and_reads_back_the_same():
    line = dumps_line({"text": BREAKS, "other": "Here’s “quoted” — text… é"})
    assert line.endswith(b"\n") and len(line.decode().splitlines()) == 1
    assert b"\\u2028" in line and b"\\u2029" in line and b"\\u0085" in line
    assert orjson.loads(line) == {"text": BREAKS, "other": "Here’s “quoted” — text… é"}


@pytest.mark.parametrize("text", ["plain", "é è ©", "Å", "\U0001f028 mahjong", "’“”—…"])
def test_text_without_line_breaks_is_left_as_it_is(text):
    encoded = orjson.dumps(text)
    assert escape_line_breaks(encoded) == encoded


def test_json_held_as_str_is_escaped_the_same_way():
    text = escape_line_breaks_text('{"a": "x\u2028y\u2029z\x85"}')
    assert text == '{"a": "x\\u2028y\\u2029z\\u0085"}' and len(text.splitlines()) == 1
