"""Whatever is accepted can be sent: input that orjson cannot write unchanged, lone
surrogates, control characters in ids, too many models and too small a chunk_size are
refused naming the request and the field: inline with a 400, and nothing is stored or
queued for them; uploaded in the background, the job ending failed with that error before
anything is planned."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import boto3
import orjson
import pytest

from batchrelay.models.job import JobStatus
from batchrelay.store import chunk_store
from tests.support.api_client import chat_request, stored_state
from tests.support.uploads import validated

BASE_BODY = '"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]'


def nested(levels: int) -> str:
    """A JSON value of ``levels`` nested lists: under a body key it makes the body ``levels + 1`` deep."""
    return "[" * levels + "]" * levels


def inline_job(body_extra: str = "", custom_id: str = '"a"', *, body: str | None = None, **extra) -> str:
    body = body if body is not None else "{" + BASE_BODY + body_extra + "}"
    top = "".join(f',"{k}":{json.dumps(v)}' for k, v in extra.items())
    request = '{"custom_id":' + custom_id + ',"body":' + body + "}"
    return '{"provider":"openai","endpoint":"/v1/chat/completions","requests":[' + request + "]" + top + "}"


def upload_line(body_extra: str = "", custom_id: str = '"a"') -> bytes:
    return ('{"custom_id":' + custom_id + ',"body":{' + BASE_BODY + body_extra + "}}").encode()


def post_upload(api, aws, lines: list[bytes], **extra):
    """PUT the JSONL, POST /v1/jobs with it, validate it: returns the job as validation left it."""
    upload = api.call("POST", "/v1/uploads", {}).body
    key = urlparse(upload["url"]).path.split(f"/{aws['BUCKET_NAME']}/", 1)[1]
    boto3.client("s3").put_object(Bucket=aws["BUCKET_NAME"], Key=key, Body=b"\n".join(lines) + b"\n")
    body = {"provider": "openai", "endpoint": "/v1/chat/completions", "upload_id": upload["upload_id"], **extra}
    return validated(api.call("POST", "/v1/jobs", body))


def good_line(custom_id: str) -> bytes:
    return orjson.dumps(chat_request(custom_id))


# (case, extra body JSON, field under body or None for "body" itself)
UNWRITABLE_BODIES = [
    ("251 levels deep", f',"x":{nested(250)}', "x[0]"),
    ("integer of 2**64", ',"seed":18446744073709551616', "seed"),
    ("integer below -2**63", ',"seed":-9223372036854775809', "seed"),
    ("integer of 40 digits", ',"seed":1234567890123456789012345678901234567890', "seed"),
    ("NaN", ',"temperature":NaN', "temperature"),
    ("Infinity", ',"temperature":Infinity', "temperature"),
    ("-Infinity", ',"temperature":-Infinity', "temperature"),
    ("1e400", ',"temperature":1e400', "temperature"),
    ("lone high surrogate in a value", ',"user":"x\\ud800y"', "user"),
    ("lone low surrogate deep in a value", ',"tools":[{"function":{"name":"\\udfff"}}]', "tools[0].function.name"),
    ("lone surrogate in a key", ',"metadata":{"\\ud800":"v"}', 'metadata["\\ud800"]'),
]
WRITABLE_BODIES = [
    ("250 levels deep", f',"x":{nested(249)}'),
    ("integer of 2**64-1", ',"seed":18446744073709551615'),
    ("integer of -2**63", ',"seed":-9223372036854775808'),
    ("a float beyond 2**64", ',"logit_scale":2e19'),
    ("digits in a string", ',"user":"12345678901234567890123456789"'),
    ("1e308", ',"temperature":1e308'),
    ("a surrogate pair", ',"user":"\\ud83d\\ude00"'),
    ("U+2028 in text", ',"user":"a\\u2028b"'),
]
BAD_IDS = [
    ("NUL", '"a\\u0000"'), ("newline", '"a\\nb"'), ("bell", '"\\u0007"'), ("tab", '"a\\tb"'),
    ("DEL", '"a\\u007f"'), ("C1 NEL", '"a\\u0085"'), ("C1 APC", '"\\u009f"'), ("lone surrogate", '"x\\ud800"'),
]
GOOD_IDS = [("accented", '"\\u00e9t\\u00e9-1"'), ("space and slash", '"a b/c"'), ("no-break space", '"a\\u00a0b"')]


def _field(prefix: str, under_body: str) -> str:
    return f"{prefix}body" + ("" if under_body.startswith("[") else ".") + under_body


def assert_refused(answer, before, aws, *, field: str, line: int | None):
    assert answer.status == 400, answer.body
    error = answer.body["error"]
    assert (error["field"], error.get("line")) == (field, line), error
    assert error["message"]
    assert stored_state(aws) == before


def assert_failed(job, *, field: str, line: int | None):
    """An uploaded job that failed validation: the error names the field and line, nothing was planned."""
    assert job.status == JobStatus.FAILED, job
    assert (job.error["field"], job.error.get("line")) == (field, line), job.error
    assert job.error["code"] == "invalid_request" and job.error["message"]
    assert chunk_store.list_chunks(job.job_id) == []


# ---------------------------------------------------------------- inline


@pytest.mark.parametrize(("case", "extra", "under_body"), UNWRITABLE_BODIES, ids=[c[0] for c in UNWRITABLE_BODIES])
def test_inline_body_that_cannot_be_written_is_400_naming_request_and_field(api, aws, case, extra, under_body):
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", inline_job(extra))
    if case == "251 levels deep":
        # The path to the 251st level, its middle left out.
        assert answer.status == 400 and answer.body["error"]["field"].startswith("requests[0].body.x[0][0]")
        assert "[...]" in answer.body["error"]["field"] and "250 levels" in answer.body["error"]["message"]
        assert stored_state(aws) == before
        return
    assert_refused(answer, before, aws, field=_field("requests[0].", under_body), line=1)


@pytest.mark.parametrize(("case", "extra"), WRITABLE_BODIES, ids=[c[0] for c in WRITABLE_BODIES])
def test_inline_body_at_the_limits_is_accepted_and_stored_unchanged(api, aws, case, extra):
    answer = api.call("POST", "/v1/jobs", inline_job(extra))
    assert answer.status == 202, answer.body
    from batchrelay.store import job_store
    from tests.support.stored_jobs import read_bytes

    stored = read_bytes(job_store.get_job(answer.body["id"]).input_key)
    assert orjson.loads(stored)["body"] == json.loads("{" + BASE_BODY + extra + "}")


def test_inline_request_in_the_middle_is_named_with_its_index(api, aws):
    requests = [chat_request(f"r{i}") for i in range(5)]
    requests[3]["body"]["seed"] = 2**70
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", {"provider": "openai", "endpoint": "/v1/chat/completions",
                                          "requests": requests})
    assert_refused(answer, before, aws, field="requests[3].body.seed", line=4)


@pytest.mark.parametrize("text", [nested(1100), "1" + "0" * 5000], ids=["1100 levels", "5000 digits"])
def test_inline_json_beyond_what_python_reads_is_400_not_500(api, aws, text):
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", inline_job(f',"x":{text}'))
    assert_refused(answer, before, aws, field="body", line=None)
    assert "not valid JSON" in answer.body["error"]["message"]


@pytest.mark.parametrize(("case", "custom_id"), BAD_IDS, ids=[c[0] for c in BAD_IDS])
def test_inline_custom_id_with_control_characters_or_surrogates_is_400(api, aws, case, custom_id):
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", inline_job(custom_id=custom_id))
    assert_refused(answer, before, aws, field="requests[0].custom_id", line=1)


@pytest.mark.parametrize(("case", "custom_id"), GOOD_IDS, ids=[c[0] for c in GOOD_IDS])
def test_inline_custom_id_with_other_characters_is_accepted(api, case, custom_id):
    assert api.call("POST", "/v1/jobs", inline_job(custom_id=custom_id)).status == 202


def test_inline_metadata_with_a_lone_surrogate_is_400(api, aws):
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", inline_job().replace('"requests"', '"metadata":{"k":"\\ud800"},"requests"'))
    assert answer.status == 400 and answer.body["error"]["field"].startswith("metadata")
    assert stored_state(aws) == before


def test_inline_request_larger_than_the_request_limit_is_400(api, aws, monkeypatch):
    from batchrelay import constants

    request = chat_request("a", text="x" * 500)
    written = len(orjson.dumps(request)) + 1
    monkeypatch.setattr(constants, "MAX_REQUEST_LINE_BYTES", written)
    job = {"provider": "openai", "endpoint": "/v1/chat/completions", "requests": [request]}
    assert api.call("POST", "/v1/jobs", job).status == 202

    monkeypatch.setattr(constants, "MAX_REQUEST_LINE_BYTES", written - 1)
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", job)
    assert_refused(answer, before, aws, field="requests[0].body", line=1)
    assert f"{written} bytes" in answer.body["error"]["message"]


def test_inline_job_naming_too_many_models_is_400(api, aws, monkeypatch):
    from batchrelay import constants

    monkeypatch.setattr(constants, "MAX_MODELS_PER_JOB", 3)
    requests = [chat_request(f"r{i}") for i in range(6)]
    for i, request in enumerate(requests):
        request["body"]["model"] = f"m{i % 4}"   # m0 m1 m2 m3: the 4th model on the 4th request
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", {"provider": "openai", "endpoint": "/v1/chat/completions",
                                          "requests": requests})
    assert_refused(answer, before, aws, field="requests[3].body.model", line=4)
    assert "at most 3 distinct models" in answer.body["error"]["message"]


def test_inline_model_name_too_long_is_400(api, aws):
    before = stored_state(aws)
    answer = api.call("POST", "/v1/jobs", inline_job(body='{"model":"%s","messages":[]}' % ("m" * 257)))
    assert_refused(answer, before, aws, field="requests[0].body.model", line=1)


@pytest.mark.parametrize(("count", "chunk_size"), [(150, 99), (150, 1), (20, 19)])
def test_inline_chunk_size_below_the_floor_is_400(api, aws, count, chunk_size):
    before = stored_state(aws)
    job = {"provider": "openai", "endpoint": "/v1/chat/completions", "chunk_size": chunk_size,
           "requests": [chat_request(f"r{i}") for i in range(count)]}
    answer = api.call("POST", "/v1/jobs", job)
    assert_refused(answer, before, aws, field="chunk_size", line=None)
    assert f"at least {min(100, count)}" in answer.body["error"]["message"]


def test_the_job_view_shows_requests_per_model(api):
    requests = [chat_request(f"r{i}") for i in range(7)]
    for i, request in enumerate(requests):
        request["body"]["model"] = ("gpt-4o-mini", "gpt-4.1", "o4-mini")[i % 3]
    created = api.call("POST", "/v1/jobs", {"provider": "openai", "endpoint": "/v1/chat/completions",
                                           "requests": requests})
    assert created.body["models"] == [
        {"model": "gpt-4.1", "request_count": 2},
        {"model": "gpt-4o-mini", "request_count": 3},
        {"model": "o4-mini", "request_count": 2},
    ]
    assert api.call("GET", f"/v1/jobs/{created.body['id']}").body["models"] == created.body["models"]


# ---------------------------------------------------------------- uploads


@pytest.mark.parametrize(("case", "extra", "under_body"), UNWRITABLE_BODIES, ids=[c[0] for c in UNWRITABLE_BODIES])
def test_upload_line_that_cannot_be_written_fails_the_job_naming_line_and_field(api, aws, case, extra, under_body):
    job = post_upload(api, aws, [good_line("ok-1"), upload_line(extra), good_line("ok-3")])
    if case == "251 levels deep":
        assert job.status == JobStatus.FAILED and job.error["line"] == 2
        assert job.error["field"].startswith("body.x[0][0]") and "[...]" in job.error["field"]
        return
    assert_failed(job, field=_field("", under_body), line=2)


def test_upload_line_300_levels_deep_fails_the_job_not_a_job_stuck_submitting(api, aws):
    job = post_upload(api, aws, [good_line("ok-1"), upload_line(f',"x":{nested(299)}')])
    assert job.status == JobStatus.FAILED and job.error["line"] == 2
    assert job.error["field"].startswith("body.x")
    assert chunk_store.list_chunks(job.job_id) == []


def test_upload_line_deeper_than_orjson_reads_fails_the_job(api, aws):
    job = post_upload(api, aws, [upload_line(f',"x":{nested(1100)}')])
    assert_failed(job, field="upload", line=1)


def test_upload_raw_surrogate_bytes_fail_the_job_naming_the_field(api, aws):
    # A surrogate encoded straight into the bytes (invalid UTF-8), not as an escape.
    line = b'{"custom_id":"a","body":{"model":"m","messages":[{"role":"user","content":"x\xed\xa0\x80"}]}}'
    job = post_upload(api, aws, [line])
    assert_failed(job, field="body.messages[0].content", line=1)


@pytest.mark.parametrize(("case", "extra"), WRITABLE_BODIES, ids=[c[0] for c in WRITABLE_BODIES])
def test_upload_line_at_the_limits_is_accepted(api, aws, case, extra):
    job = post_upload(api, aws, [upload_line(extra)])
    assert job.status == JobStatus.SUBMITTING, job.error


@pytest.mark.parametrize(("case", "custom_id"), BAD_IDS, ids=[c[0] for c in BAD_IDS])
def test_upload_custom_id_with_control_characters_or_surrogates_fails_the_job(api, aws, case, custom_id):
    job = post_upload(api, aws, [good_line("ok"), upload_line(custom_id=custom_id)])
    assert_failed(job, field="custom_id", line=2)


def test_upload_naming_too_many_models_fails_the_job(api, aws, monkeypatch):
    from batchrelay import constants

    monkeypatch.setattr(constants, "MAX_MODELS_PER_JOB", 2)
    lines = [upload_line(custom_id=f'"r{i}"').replace(b"gpt-4o-mini", f"m{i % 3}".encode()) for i in range(5)]
    job = post_upload(api, aws, lines)
    assert_failed(job, field="body.model", line=3)


def test_upload_chunk_size_below_the_floor_fails_the_job(api, aws):
    job = post_upload(api, aws, [good_line(f"r{i}") for i in range(150)], chunk_size=50)
    assert_failed(job, field="chunk_size", line=None)


def test_upload_job_view_shows_requests_per_model(api, aws):
    lines = [upload_line(custom_id=f'"r{i}"').replace(b"gpt-4o-mini", b"gpt-4.1" if i < 2 else b"o3")
             for i in range(5)]
    job = post_upload(api, aws, lines, chunk_size=5)
    assert job.status == JobStatus.SUBMITTING, job.error
    view = api.call("GET", f"/v1/jobs/{job.job_id}").body
    assert view["models"] == [{"model": "gpt-4.1", "request_count": 2}, {"model": "o3", "request_count": 3}]
    assert view["request_count"] == 5 and view["validation"]["done"] is True
