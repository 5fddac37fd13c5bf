"""A normalized result line in OpenAI's and Anthropic's own result shapes."""

from __future__ import annotations

from batchrelay.results.surface_lines import anthropic_line, openai_line


def result(status: str, **fields) -> dict:
    return {"custom_id": "q1", "status": status, "response": None, "error": None, "usage": None,
            "provider": "openai", "batch_id": "batch_1", "attempts": 1, **fields}


def test_a_success_goes_to_the_output_file_with_the_body():
    kind, line = openai_line(result("succeeded", response={"id": "chatcmpl-1"}), job_id="job_1")
    assert kind == "output"
    assert line["custom_id"] == "q1" and line["error"] is None
    assert line["response"]["status_code"] == 200 and line["response"]["body"] == {"id": "chatcmpl-1"}
    # Ids stable for a job and id, different across jobs
    assert openai_line(result("succeeded"), job_id="job_1")[1]["id"] == line["id"]
    assert openai_line(result("succeeded"), job_id="job_2")[1]["id"] != line["id"]


def test_a_provider_error_goes_to_the_error_file_with_its_status_and_body():
    body = {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}}
    kind, line = openai_line(result("errored", response=body, error={"code": "invalid_request_error",
                                                                      "message": "bad", "status_code": 400}),
                             job_id="job_1")
    assert kind == "errors" and line["response"] == {"status_code": 400, "request_id": line["response"]["request_id"],
                                                      "body": body}
    assert line["error"] is None


def test_requests_that_never_ran_carry_openais_batch_error_codes():
    for status, code in (("expired", "batch_expired"), ("cancelled", "batch_cancelled")):
        kind, line = openai_line(result(status), job_id="job_1")
        assert kind == "errors" and line["response"] is None and line["error"]["code"] == code
    kind, line = openai_line(result("errored", error={"code": "batch_failed", "message": "refused"}), job_id="j")
    assert line["error"] == {"code": "batch_failed", "message": "refused"} and line["response"] is None


def test_anthropic_shapes():
    assert anthropic_line(result("succeeded", response={"id": "msg_1"})) == {
        "custom_id": "q1", "result": {"type": "succeeded", "message": {"id": "msg_1"}}}
    assert anthropic_line(result("expired"))["result"] == {"type": "expired"}
    assert anthropic_line(result("cancelled"))["result"] == {"type": "canceled"}
    errored = anthropic_line(result("errored", error={"type": "overloaded_error", "message": "busy"}))
    assert errored["result"] == {"type": "errored", "error": {"type": "error", "error": {
        "type": "overloaded_error", "message": "busy"}}}
    # An error type Anthropic does not have is an api_error
    other = anthropic_line(result("errored", error={"code": "batch_failed", "message": "refused"}))
    assert other["result"]["error"]["error"] == {"type": "api_error", "message": "refused"}
