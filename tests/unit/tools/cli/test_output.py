"""How the CLI words errors and progress."""

from __future__ import annotations

import httpx

from batchrelay_tools.cli.client import ApiError
from batchrelay_tools.cli.output import Progress, error_line, fmt_duration, jobs_table


def _job(done: int, total: int = 100, status: str = "in_progress") -> dict:
    return {
        "id": "job_1",
        "status": status,
        "progress": done / total,
        "counts": {"total": total, "succeeded": done, "errored": 0, "expired": 0, "cancelled": 0,
                   "pending": total - done},
    }


def test_error_line_names_code_field_and_file_line():
    # Given an API validation error about the 4th request of a file with one blank line
    err = ApiError("invalid_request", "requests[3].custom_id: String should have at least 1 character",
                   field="requests[3].custom_id", line=4)
    # When it is formatted with the request -> file line map
    text = error_line(err, [1, 2, 3, 5])
    # Then it is one line that points at the file's line
    assert text == "error: invalid_request: requests[3].custom_id: String should have at least 1 character (line 5)"


def test_error_line_adds_the_field_when_the_message_lacks_it():
    err = ApiError("invalid_request", "must be https", field="webhook_url")
    assert error_line(err) == "error: invalid_request: webhook_url: must be https"


def test_error_line_is_one_line_even_for_multiline_messages():
    assert "\n" not in error_line(ApiError("internal_error", "a\nb"))


def test_gateway_forbidden_becomes_a_code_and_a_hint():
    response = httpx.Response(403, json={"message": "Forbidden"})
    err = ApiError.from_response(response)
    assert err.code == "forbidden"
    assert "BATCHRELAY_API_KEY" in err.message


def test_gateway_unauthorized_reads_the_gateway_body_and_hints_at_the_key():
    from batchrelay import constants as c

    response = httpx.Response(401, json=c.gateway_error_body("UNAUTHORIZED"))
    err = ApiError.from_response(response)
    assert err.code == "invalid_api_key" and err.status == 401
    assert "BATCHRELAY_API_KEY" in err.message


def test_api_error_body_is_parsed():
    response = httpx.Response(
        409, json={"error": {"code": "conflict", "message": "job is still in_progress", "field": "job_id"}}
    )
    err = ApiError.from_response(response)
    assert (err.code, err.field, err.status) == ("conflict", "job_id", 409)


def test_non_json_error_keeps_the_first_line():
    err = ApiError.from_response(httpx.Response(502, text="Bad gateway\nmore"))
    assert (err.code, err.message) == ("bad_gateway", "Bad gateway")


def test_progress_eta_from_observed_rate():
    progress = Progress(started=0.0)
    assert progress.eta(_job(10), now=0.0) is None
    # 20 more requests in 10 s -> 70 left take 35 s
    assert progress.eta(_job(30), now=10.0) == 35.0
    line = progress.line(_job(50), now=20.0)
    assert "50/100" in line and "ETA 0:25" in line and "50%" in line


def test_fmt_duration():
    assert fmt_duration(None) == "--:--"
    assert fmt_duration(75) == "1:15"
    assert fmt_duration(3725) == "1:02:05"


def test_jobs_table_has_a_header_and_a_row_per_job():
    table = jobs_table([{**_job(50), "provider": "openai", "request_count": 100, "created_at": "t"}])
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["ID", "STATUS"]
    assert lines[1].split()[:3] == ["job_1", "in_progress", "openai"]


def _validating(checked: int, size: int = 4_000_000, requests: int = 0) -> dict:
    return {"id": "job_1", "status": "validating", "progress": 0.0, "request_count": 0,
            "counts": {"total": 0, "succeeded": 0, "errored": 0, "expired": 0, "cancelled": 0, "pending": 0},
            "validation": {"size_bytes": size, "checked_bytes": checked, "checked_requests": requests, "done": False}}


def test_progress_while_validating_shows_the_bytes_checked_and_no_eta():
    progress = Progress(started=0.0)
    line = progress.line(_validating(1_000_000, requests=5000), now=5.0)
    assert "validating" in line and "25%" in line and "1.0 MB of 4.0 MB checked, 5000 requests" in line
    assert "ETA --:--" in line
    # The request rate starts once validation is over: the first sample is taken then
    assert progress.eta(_validating(4_000_000), now=50.0) is None
    assert progress.eta(_job(0), now=60.0) is None
    assert progress.eta(_job(50), now=70.0) == 10.0


def test_a_job_that_failed_validation_shows_the_line_and_field():
    from batchrelay_tools.cli.output import job_summary

    job = {**_validating(10), "status": "failed", "progress": 1.0,
           "error": {"code": "invalid_request", "message": "body.model must be a non-empty string",
                     "field": "body.model", "line": 900000}}
    text = job_summary(job)
    assert "error     invalid_request: body.model must be a non-empty string (field body.model, line 900000)" in text
    assert "input" in job_summary(_validating(10))


def test_a_batch_pending_at_the_provider_is_shown_with_its_age():
    from batchrelay_tools.cli.output import job_summary

    job = {**_job(0), "status": "in_progress", "provider": "gemini", "endpoint": "generateContent",
           "pending_batches": [{"provider": "gemini", "batches": 2, "oldest_pending_since": "2026-11-30T09:00:00Z",
                                "oldest_pending_age_s": 5 * 3600 + 61}]}
    assert ("waiting   2 batch(es) pending at gemini, the oldest for 5:01:01 (since 2026-11-30T09:00:00Z)"
            in job_summary(job))
