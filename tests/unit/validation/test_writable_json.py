"""What orjson does at its limits (checked on the installed version, not assumed), and the
checks built on it: every body accepted can be written by every writer of the lifecycle."""

from __future__ import annotations

import hashlib
import json
import math

import orjson
import pytest

from batchrelay import constants as c
from batchrelay.validation.writable_json import (
    MAX_INT,
    MIN_INT,
    NonFiniteNumber,
    encode_request_line,
    first_problem,
    format_path,
    has_lone_surrogate,
    loads_marking_non_finite,
    may_hold_wide_integers,
    reread_body,
)


def nested(levels: int, leaf=None):
    value = leaf
    for _ in range(levels):
        value = [value] if value is not None else []
    return value


def body_of_depth(depth: int) -> dict:
    """A body nesting ``depth`` levels, the body itself being the first."""
    return {"model": "m", "x": nested(depth - 1)} if depth > 1 else {"model": "m"}


# ---------------------------------------------------------------- orjson, pinned


def test_orjson_reads_1024_levels_and_no_more():
    orjson.loads("[" * 1024 + "]" * 1024)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads("[" * 1025 + "]" * 1025)


def test_orjson_writes_254_levels_and_no_more():
    assert c.ORJSON_MAX_WRITE_DEPTH == 254
    orjson.dumps(nested(254))
    with pytest.raises(TypeError, match="Recursion limit"):
        orjson.dumps(nested(255))


def test_orjson_writes_integers_of_64_bits_and_widens_longer_ones_when_reading():
    for value in (MIN_INT, MAX_INT):
        assert orjson.loads(orjson.dumps(value)) == value and type(orjson.loads(orjson.dumps(value))) is int
    for value in (MIN_INT - 1, MAX_INT + 1):
        with pytest.raises(TypeError, match="64-bit"):
            orjson.dumps(value)
        read = orjson.loads(str(value))
        assert type(read) is float   # silently: this is why upload lines are re-read


def test_orjson_writes_nan_and_infinity_as_null_and_refuses_to_read_them():
    assert orjson.dumps([math.nan, math.inf, -math.inf]) == b"[null,null,null]"
    for text in ("NaN", "Infinity", "1e400"):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(text)


def test_orjson_refuses_lone_surrogates_both_ways():
    with pytest.raises(TypeError, match="surrogates"):
        orjson.dumps({"a": "\ud800"})
    with pytest.raises(TypeError, match="surrogates"):
        orjson.dumps({"\udc00": 1})
    for text in (b'"\\ud800"', b'"\xed\xa0\x80"'):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(text)
    assert orjson.loads(b'"\\ud83d\\ude00"') == "\U0001f600"


# ---------------------------------------------------------------- the fast check


def test_a_body_at_the_depth_limit_is_encoded_exactly_as_orjson_writes_the_line():
    body = body_of_depth(c.MAX_BODY_DEPTH)
    assert encode_request_line("id", body) == orjson.dumps({"custom_id": "id", "body": body}) + b"\n"


@pytest.mark.parametrize("body", [
    body_of_depth(c.MAX_BODY_DEPTH + 1),
    {"model": "m", "seed": MAX_INT + 1},
    {"model": "m", "seed": MIN_INT - 1},
    {"model": "m", "t": NonFiniteNumber("NaN")},
    {"model": "m", "u": "\ud800"},
    {"model": "m", "\udfff": 1},
], ids=["too deep", "2**64", "-2**63-1", "NaN marker", "surrogate", "surrogate key"])
def test_the_fast_check_refuses_what_cannot_be_written(body):
    with pytest.raises(TypeError):
        encode_request_line("id", body)


def test_every_writer_of_the_lifecycle_writes_a_body_at_the_depth_limit():
    from batchrelay.jobs.job_service import _request_hash
    from batchrelay.lifecycle.chunk_planner import ChunkInputWriter
    from batchrelay.models.api import CreateJobRequest
    from batchrelay.providers.anthropic_provider import AnthropicProvider
    from batchrelay.providers.openai_provider import OpenAIProvider

    body = body_of_depth(c.MAX_BODY_DEPTH)
    # The chunk input line (planner, collector's retry chunks) and both providers' lines.
    orjson.dumps({"custom_id": "id", "provider_custom_id": "id", "body": body})
    for provider in (OpenAIProvider(), AnthropicProvider()):
        ChunkInputWriter.provider_line(provider, "id", body, "/v1/chat/completions")
    # The idempotency hash.
    _request_hash(CreateJobRequest(provider="openai", endpoint="/v1/chat/completions",
                                   requests=[{"custom_id": "id", "body": body}]))


def test_long_digit_runs_are_what_sends_an_upload_line_to_be_re_read():
    assert not may_hold_wide_integers(b'{"seed": 999999999999999999, "x": "123456789012345678"}')
    assert may_hold_wide_integers(b'{"seed": 18446744073709551616}')
    assert may_hold_wide_integers(b'{"x": "1234567890123456789"}')   # in a string: the re-read decides


def test_the_re_read_finds_wide_integers_and_leaves_floats_and_strings_alone():
    assert reread_body(b'{"body": {"a": [1, {"seed": 18446744073709551616}]}}') == (
        ["a", 1, "seed"], "18446744073709551616 is outside the 64-bit range (-2**63 to 2**64-1) that can be sent")
    assert reread_body(b'{"body": {"a": 2e19, "b": "123456789012345678901234"}}') is None
    assert reread_body(b'{"body": {"a": ' + b"9" * 5000 + b"}}") == ([], "an integer too long to read")


# ---------------------------------------------------------------- explaining a failure


@pytest.mark.parametrize(("body", "path", "words"), [
    ({"a": {"b": [1, 2, {"c": MAX_INT + 1}]}}, ["a", "b", 2, "c"], "64-bit"),
    ({"a": [NonFiniteNumber("Infinity")]}, ["a", 0], "Infinity is not a finite number"),
    ({"a": math.nan}, ["a"], "not a finite number"),
    ({"a": "ok", "b": ["x\udc00"]}, ["b", 0], "lone UTF-16 surrogate"),
    ({"a": {"\ud800k": 1}}, ["a", "\ud800k"], "key with a lone"),
    ({"a": {1, 2}}, ["a"], "set is not a JSON value"),
    ({"x": nested(c.MAX_BODY_DEPTH)}, ["x", *[0] * (c.MAX_BODY_DEPTH - 1)], f"deeper than {c.MAX_BODY_DEPTH}"),
], ids=["int", "marker", "nan", "surrogate", "surrogate key", "set", "depth"])
def test_first_problem_names_the_place_and_the_reason(body, path, words):
    found = first_problem(body)
    assert found is not None and found[0] == path and words in found[1]


def test_first_problem_reports_the_first_in_document_order_and_walks_any_depth_without_recursion():
    assert first_problem({"a": [MAX_INT + 1], "b": math.inf})[0] == ["a", 0]
    assert first_problem({"a": nested(c.MAX_BODY_DEPTH - 1, leaf=1), "b": 2}) is None
    assert first_problem(nested(100_000)) is not None   # far beyond Python's recursion limit


def test_field_paths_quote_odd_keys_as_ascii_json_and_shorten_long_paths():
    assert format_path("requests[2].body", ["messages", 0, "content"]) == "requests[2].body.messages[0].content"
    assert format_path("body", ["a b", "\ud800", "é"]) == 'body["a b"]["\\ud800"]["\\u00e9"]'
    long = format_path("body", ["x"] + [0] * 300)
    assert long == "body.x[0][0][0][0][0][...][0][0][0][0][0][0]"
    orjson.dumps(format_path("body", ["\ud800" * 100]))   # always writable


def test_the_api_reader_keeps_non_finite_numbers_as_markers_and_integers_exact():
    value = loads_marking_non_finite('{"a": NaN, "b": -Infinity, "c": 1e400, "d": 1.5, "e": 18446744073709551616}')
    assert [type(value[k]) for k in "abc"] == [NonFiniteNumber] * 3
    assert value["c"].text == "1e400" and value["d"] == 1.5 and value["e"] == 2**64


def test_lone_surrogates_are_found_in_non_ascii_text_only():
    assert not has_lone_surrogate("plain") and not has_lone_surrogate("é\U0001f600")
    assert has_lone_surrogate("é\ud800")


# ---------------------------------------------------------------- the idempotency hash


@pytest.mark.parametrize("fields", [
    {"requests": [{"custom_id": "a", "body": {"model": "m", "z": 1, "a": [1.5, None, "é"]}},
                  {"custom_id": "b", "body": {"model": "n", "messages": []}}],
     "metadata": {"k": "v"}, "chunk_size": 100, "webhook_url": "https://x.example/h"},
    {"upload_id": "upl_1", "max_attempts": 2},
], ids=["inline", "upload"])
def test_the_request_hash_is_the_one_stored_before(fields):
    from batchrelay.jobs.job_service import _request_hash
    from batchrelay.models.api import CreateJobRequest

    request = CreateJobRequest(provider="openai", endpoint="/v1/chat/completions", **fields)
    # Fields added since (completion_window, max_batch_age_seconds, timeout_hours) count only once set.
    before = request.model_dump(mode="json", exclude={"completion_window", "max_batch_age_seconds", "timeout_hours"})
    legacy = hashlib.sha256(orjson.dumps(before, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert _request_hash(request) == legacy
    aged = CreateJobRequest(provider="openai", endpoint="/v1/chat/completions", max_batch_age_seconds=7200, **fields)
    assert _request_hash(aged) == hashlib.sha256(
        orjson.dumps(aged.model_dump(mode="json", exclude={"completion_window", "timeout_hours"}),
                     option=orjson.OPT_SORT_KEYS)
    ).hexdigest() != legacy


def test_a_set_timeout_hours_is_part_of_the_request_hash():
    from batchrelay.jobs.job_service import _request_hash
    from batchrelay.models.api import CreateJobRequest

    fields = {"provider": "mistral", "endpoint": "/v1/embeddings", "upload_id": "upl_1"}
    hashes = {_request_hash(CreateJobRequest(**fields, **extra)) for extra in ({}, {"timeout_hours": 24},
                                                                              {"timeout_hours": 48})}
    assert len(hashes) == 3


def test_json_module_reads_what_orjson_refuses_so_uploads_can_be_explained():
    # The fallback for upload lines orjson refuses relies on this.
    assert json.loads(b'{"a": "\xed\xa0\x80"}') == {"a": "\ud800"}
