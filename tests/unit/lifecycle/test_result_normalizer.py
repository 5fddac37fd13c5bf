import orjson

from batchrelay.lifecycle.result_normalizer import line_for_result, line_for_unreported, model_of
from batchrelay.models.results import ResultLine
from batchrelay.providers.base import ProviderResult


def test_succeeded_line_keeps_response_and_usage_under_the_users_id():
    result = ProviderResult(custom_id="h_abc", outcome="succeeded", response={"model": "gpt-4o", "x": 1},
                            usage={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7})

    line = line_for_result(result, custom_id="user id/1", status="succeeded", provider="openai",
                           batch_id="batch_1", attempts=2)

    parsed = ResultLine.model_validate(orjson.loads(line))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parsed.custom_id == "user id/1"
    assert parsed.response == {"model": "gpt-4o", "x": 1}
    assert parsed.error is None
    assert parsed.usage == {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
    assert parsed.attempts == 2


def test_errored_line_carries_the_providers_error():
    result = ProviderResult(custom_id="a", outcome="errored", error={"code": "invalid_request", "message": "no"})

    parsed = orjson.loads(line_for_result(result, custom_id="a", status="errored", provider="anthropic",
                                          batch_id="b", attempts=1))

    assert parsed["status"] == "errored"
    assert parsed["error"] == {"code": "invalid_request", "message": "no"}


def test_a_retryable_failure_out_of_attempts_ends_expired_with_an_error():
    result = ProviderResult(custom_id="a", outcome="expired")

    parsed = orjson.loads(line_for_result(result, custom_id="a", status="expired", provider="openai",
                                          batch_id="b", attempts=3))

    assert parsed["error"]["code"] == "expired"


def test_unreported_lines():
    batch_errors = [{"code": "invalid_request", "message": "bad", "line": 3}]
    failed = orjson.loads(line_for_unreported(custom_id="a", status="errored", provider="openai", batch_id="b",
                                              attempts=1, batch_errors=batch_errors))
    cancelled = orjson.loads(line_for_unreported(custom_id="a", status="cancelled", provider="openai",
                                                 batch_id=None, attempts=1))

    assert failed["error"]["code"] == "batch_failed" and failed["error"]["batch_errors"] == batch_errors
    assert cancelled["error"]["code"] == "cancelled" and cancelled["batch_id"] is None
    ResultLine.model_validate(failed)
    ResultLine.model_validate(cancelled)


def test_model_from_result_or_response():
    assert model_of(ProviderResult(custom_id="a", outcome="succeeded", model="m1")) == "m1"
    assert model_of(ProviderResult(custom_id="a", outcome="succeeded", response={"model": "m2"})) == "m2"
    assert model_of(ProviderResult(custom_id="a", outcome="succeeded", response={"body": {"model": "m3"}})) == "m3"
    assert model_of(ProviderResult(custom_id="a", outcome="errored")) is None


def test_line_separators_in_answers_are_written_escaped_so_the_line_stays_one():
    text = "a\u2028b\u2029c\x85d"
    result = ProviderResult(custom_id="a", outcome="succeeded", response={"content": text})

    line = line_for_result(result, custom_id="id\u2028x", status="succeeded", provider="openai",
                           batch_id="b", attempts=1)

    assert len(line.decode().splitlines()) == 1
    assert orjson.loads(line)["response"]["content"] == text and orjson.loads(line)["custom_id"] == "id\u2028x"
    unreported = line_for_unreported(custom_id="id\u2029", status="expired", provider="openai", batch_id=None,
                                     attempts=1)
    assert len(unreported.decode().splitlines()) == 1
