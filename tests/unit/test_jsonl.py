"""batchrelay.jsonl: line splitting (both splitters) and the orjson-first JSON line parser."""

from __future__ import annotations

import json

import orjson
import pytest

from batchrelay.jsonl import iter_lines, loads_line
from batchrelay.providers.anthropic_provider import AnthropicProvider
from batchrelay.providers.openai_provider import OpenAIProvider


def test_plain_lines_take_the_orjson_path_and_match_the_standard_parser():
    line = b'{"a": [1, 2.5, null, true], "b": {"c": "d\\u00e9\\n"}, "e": -0.1e3}'
    assert loads_line(line) == orjson.loads(line) == json.loads(line)


@pytest.mark.parametrize("raw", [b"\r", b"\t", b"\x01", b"\x1f"])
def test_a_raw_control_character_inside_a_string_falls_back_to_the_lenient_parser(raw):
    line = b'{"custom_id": "a", "text": "x' + raw + b'y"}'
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(line)
    assert loads_line(line) == {"custom_id": "a", "text": "x" + raw.decode() + "y"}


def test_what_only_the_standard_parser_reads_still_parses():
    assert loads_line(b'{"n": NaN, "big": 123456789012345678901234567890}')["big"] == 123456789012345678901234567890


@pytest.mark.parametrize("line", [b"{", b"not json", b'{"a": "\xff"}', b""])
def test_lines_neither_parser_reads_raise_value_error(line):
    with pytest.raises(ValueError):
        loads_line(line)


def test_both_adapters_parse_a_raw_carriage_return_inside_a_string():
    openai_line = (b'{"custom_id":"a","response":{"status_code":200,"body":{"model":"m",'
                   b'"choices":[{"message":{"content":"x\ry"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}}}')
    result = OpenAIProvider(api_key="unused").parse_result_line("output", openai_line)
    assert result.outcome == "succeeded" and result.response["choices"][0]["message"]["content"] == "x\ry"
    assert result.usage == {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}

    anthropic_line = (b'{"custom_id":"a","result":{"type":"succeeded","message":{"model":"m",'
                      b'"content":[{"type":"text","text":"x\ry"}],"usage":{"input_tokens":1,"output_tokens":2}}}}')
    result = AnthropicProvider(api_key="unused").parse_result_line("results", anthropic_line)
    assert result.outcome == "succeeded" and result.response["content"][0]["text"] == "x\ry"


def test_lines_split_on_newline_only_across_any_block_boundaries():
    lines = [b'{"a": "x\ry"}', b'{"b": "' + b"z" * 300 + b'"}', b"\x85\x0b", b"last-without-newline"]
    data = b"\n".join(lines[:3]) + b"\n\n \n" + lines[3]
    for size in (1, 2, 3, 7, 64, 1000, len(data)):
        blocks = [data[i : i + size] for i in range(0, len(data), size)]
        assert list(iter_lines(blocks)) == lines, size


def test_a_line_spanning_many_blocks_and_blank_or_empty_blocks():
    assert list(iter_lines([b"ab", b"", b"cd", b"ef\ngh", b"", b"\n", b"  ", b"\n"])) == [b"abcdef", b"gh"]
    assert list(iter_lines([b"\n\n", b"\r\n"])) == []


def test_splits_on_newline_only_keeping_carriage_returns_inside_lines():
    blocks = [b'{"a": "x\ry"}\n{"b"', b': 1}\r\n', b"\n", b'{"c": "\x85\x0b"}']

    lines = list(iter_lines(blocks))

    assert lines == [b'{"a": "x\ry"}', b'{"b": 1}\r', b'{"c": "\x85\x0b"}']


def test_lines_spanning_many_blocks_and_blank_lines():
    data = b"one\n\n  \ntwo-long-line\nthree\n"
    blocks = [data[i : i + 3] for i in range(0, len(data), 3)]

    assert list(iter_lines(blocks)) == [b"one", b"two-long-line", b"three"]


def test_empty_input():
    assert list(iter_lines([])) == []
    assert list(iter_lines([b"", b"\n"])) == []


def test_split_lines_keeps_blank_lines_so_callers_can_number_them():
    from batchrelay.jsonl import split_lines

    blocks = [b"a\n\nb", b"c\n", b"\n", b"d"]
    assert list(split_lines(blocks)) == [b"a", b"", b"bc", b"", b"d"]


def test_split_lines_stops_a_line_past_the_cap_before_it_is_whole():
    import pytest

    from batchrelay.jsonl import LineTooLong, split_lines

    blocks = iter([b"ok\n", b"x" * 10, b"x" * 10, b"never read\n"])
    lines = split_lines(blocks, max_line_bytes=15)
    assert next(lines) == b"ok"
    with pytest.raises(LineTooLong) as too_long:
        next(lines)
    assert too_long.value.line == 2
