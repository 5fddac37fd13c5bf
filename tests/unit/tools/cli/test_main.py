"""Argument parsing, input files and exit codes of the CLI (no server needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batchrelay_tools.cli import main as cli
from batchrelay_tools.cli.client import ApiError


def test_connection_options_work_before_and_after_the_command():
    parser = cli.build_parser()
    before = parser.parse_args(["--url", "http://a", "--api-key", "k", "jobs"])
    after = parser.parse_args(["jobs", "--url", "http://a", "--api-key", "k"])
    assert (before.url, before.api_key) == (after.url, after.api_key) == ("http://a", "k")


def test_submit_requires_provider_and_endpoint(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(["submit", "f.jsonl"])
    assert exit_info.value.code == 2


def test_missing_api_key_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.delenv("BATCHRELAY_API_KEY", raising=False)
    assert cli.main(["jobs"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err.strip() == "error: no API key: pass --api-key or set BATCHRELAY_API_KEY"


def test_unreachable_api_is_one_line_and_exit_1(capsys):
    code = cli.main(["--url", "http://127.0.0.1:9", "--api-key", "k", "--timeout", "2", "jobs"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_API_ERROR
    assert err.count("\n") == 1 and err.startswith("error: connection_failed: cannot reach http://127.0.0.1:9")


def test_missing_file_is_a_usage_error(capsys, tmp_path):
    code = cli.main(["--api-key", "k", "submit", str(tmp_path / "nope.jsonl"), "--provider", "openai",
                     "--endpoint", "/v1/chat/completions"])
    assert code == cli.EXIT_USAGE


def test_read_requests_skips_blank_lines_and_maps_lines(tmp_path: Path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"custom_id": "a", "body": {}}\n\n{"custom_id": "b", "body": {}}\n')
    line_map: list[int] = []
    requests = cli.read_requests(path, line_map)
    assert [r["custom_id"] for r in requests] == ["a", "b"]
    assert line_map == [1, 3]


def test_read_requests_names_the_bad_line(tmp_path: Path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"custom_id": "a", "body": {}}\n{not json\n')
    with pytest.raises(ApiError) as info:
        cli.read_requests(path, [])
    assert info.value.line == 2 and info.value.code == "invalid_request"


def test_bad_json_line_exits_1_with_the_file_line(tmp_path: Path, capsys):
    path = tmp_path / "in.jsonl"
    path.write_text('\n\n{"custom_id": "a", "body": {}}\n[1]\n')
    code = cli.main(["--url", "http://127.0.0.1:9", "--api-key", "k", "submit", str(path),
                     "--provider", "openai", "--endpoint", "/v1/chat/completions", "--no-upload"])
    err = capsys.readouterr().err.strip()
    assert code == cli.EXIT_API_ERROR
    assert err.endswith("(line 4)") and "each line must be a JSON object" in err


def test_should_upload_by_line_count(tmp_path: Path):
    small = tmp_path / "small.jsonl"
    small.write_text("{}\n" * 10)
    big = tmp_path / "big.jsonl"
    big.write_text("{}\n" * (cli.UPLOAD_MIN_LINES + 1))
    assert not cli.should_upload(small, None)
    assert cli.should_upload(big, None)
    assert cli.should_upload(small, True)
    assert not cli.should_upload(big, False)


def test_job_body_from_options():
    args = cli.build_parser().parse_args(
        ["submit", "f.jsonl", "--provider", "anthropic", "--endpoint", "/v1/messages", "--metadata", "team=x",
         "--chunk-size", "100", "--max-attempts", "2", "--webhook-url", "https://h"]
    )
    assert cli.job_body(args) == {
        "provider": "anthropic", "endpoint": "/v1/messages", "webhook_url": "https://h",
        "metadata": {"team": "x"}, "chunk_size": 100, "max_attempts": 2,
    }


def test_a_mistral_job_may_set_its_timeout_hours():
    args = cli.build_parser().parse_args(
        ["submit", "f.jsonl", "--provider", "mistral", "--endpoint", "/v1/embeddings", "--timeout-hours", "48"])
    assert cli.job_body(args) == {"provider": "mistral", "endpoint": "/v1/embeddings", "timeout_hours": 48}


def test_bad_metadata_is_a_usage_error():
    args = cli.build_parser().parse_args(["submit", "f", "--provider", "openai", "--endpoint", "/e",
                                          "--metadata", "novalue"])
    with pytest.raises(cli.UsageError):
        cli.job_body(args)


def test_wait_exit_codes(monkeypatch, capsys):
    # Given a job that is in progress once, then cancelled
    states = iter(["in_progress", "cancelled"])

    class FakeClient:
        def get_job(self, job_id):
            status = next(states)
            return {"id": job_id, "status": status, "provider": "openai", "endpoint": "/e", "progress": 0.5,
                    "counts": {"total": 2, "succeeded": 1, "pending": 1 if status == "in_progress" else 0,
                               "cancelled": 0 if status == "in_progress" else 1}}

    # When we follow it
    code = cli.follow(FakeClient(), "job_1", interval=0)
    # Then it ends with the "job not ok" code and the summary
    assert code == cli.EXIT_JOB_NOT_OK
    assert "job_1  cancelled" in capsys.readouterr().out


def test_json_output_is_json(monkeypatch, capsys):
    class FakeClient:
        def get_job(self, job_id):
            return {"id": job_id, "status": "completed", "progress": 1.0, "counts": {"total": 1, "pending": 0}}

    assert cli.follow(FakeClient(), "job_1", interval=0, as_json=True) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "completed"


def test_webhook_url_does_not_shadow_the_api_url():
    args = cli.build_parser().parse_args(["--url", "http://api", "webhooks", "add", "http://hook"])
    assert args.url == "http://api" and args.endpoint_url == "http://hook"


def test_an_unwritable_output_is_one_line_and_exit_1(tmp_path: Path, capsys, monkeypatch):
    class FakeClient:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def job_results(self, job_id):
            return {"results_url": "http://127.0.0.1:9/x", "manifest_url": "", "status": "completed"}

    monkeypatch.setattr(cli, "_client", lambda args: FakeClient())
    code = cli.main(["results", "job_1", "-o", str(tmp_path / "missing" / "out.jsonl")])
    err = capsys.readouterr().err.strip()
    assert code == cli.EXIT_API_ERROR
    assert err.startswith("error: No such file or directory") and "\n" not in err


def test_a_part_size_below_s3s_minimum_is_a_usage_error(tmp_path: Path, capsys):
    path = tmp_path / "in.jsonl"
    path.write_text('{"custom_id": "a", "body": {}}\n')
    code = cli.main(["--url", "http://127.0.0.1:9", "--api-key", "k", "submit", str(path), "--provider", "openai",
                     "--endpoint", "/v1/chat/completions", "--part-size", "1"])
    assert code == cli.EXIT_USAGE and "--part-size is at least 5" in capsys.readouterr().err


def test_big_files_go_in_parts_and_small_ones_in_one_put(tmp_path: Path, monkeypatch):
    calls = []

    class FakeClient:
        def create_upload(self, size=None, part_size=None):
            calls.append(("create", size, part_size))
            return {"upload_id": "upl_1", "parts": [{"part_number": 1, "url": "u"}], "url": "u"}

        def put_upload(self, upload, path):
            calls.append(("put",))

        def put_parts(self, upload, path, progress=None):
            calls.append(("parts",))
            return [{"part_number": 1, "etag": '"e"'}]

        def complete_upload(self, upload_id, parts):
            calls.append(("complete", parts))

    path = tmp_path / "in.jsonl"
    path.write_bytes(b"x" * 100)
    assert cli.upload_file(FakeClient(), path) == "upl_1"
    assert calls == [("create", None, None), ("put",)]
    calls.clear()
    cli.upload_file(FakeClient(), path, part_size_mib=5)
    assert calls == [("create", 100, 5 * 1024 * 1024), ("parts",), ("complete", [{"part_number": 1, "etag": '"e"'}])]
    calls.clear()
    monkeypatch.setattr(cli, "MULTIPART_MIN_BYTES", 50)
    cli.upload_file(FakeClient(), path)
    assert calls[0] == ("create", 100, None) and calls[-1][0] == "complete"


def test_delete_prints_what_was_removed(capsys):
    class FakeClient:
        def delete_job(self, job_id):
            return {"id": job_id, "status": "deleting", "removed": {"results": 2, "table_items": 0}}

    args = cli.build_parser().parse_args(["delete", "job_1"])
    assert cli.cmd_delete(FakeClient(), args) == 0
    out, err = capsys.readouterr()
    assert out == "job_1  deleting  removed: results 2, table_items 0\n"
    assert "batchrelay status job_1" in err
