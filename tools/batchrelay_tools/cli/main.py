"""``batchrelay``: submit JSONL files as batch jobs, follow them, fetch their results.

Exit codes: 0 success; 1 an API error (one line on stderr); 2 a usage error;
3 ``wait`` saw the job end failed, cancelled or expired; 4 ``wait --timeout`` ran out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from batchrelay import registry
from batchrelay_tools.cli.client import DEFAULT_URL, ENV_API_KEY, ENV_URL, ApiClient, ApiError
from batchrelay_tools.cli.output import FINAL, FINAL_BAD, Progress, error_line, job_summary, jobs_table

EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_JOB_NOT_OK = 3
EXIT_TIMEOUT = 4
# Beyond these a file goes through POST /v1/uploads instead of the request body.
UPLOAD_MIN_LINES = 5_000
UPLOAD_MIN_BYTES = 5 * 1024 * 1024
# Beyond this an upload goes in parts (multipart; needed beyond 5 GiB): a failed part is
# sent again alone, and several go at once.
MULTIPART_MIN_BYTES = 64 * 1024 * 1024
MIB = 1024 * 1024
MIN_PART_MIB = 5


class UsageError(Exception):
    pass


class InputFileError(ApiError):
    """The file itself is unreadable as JSONL; its line number is already the file's."""


# --------------------------------------------------------------------------- arguments
def build_parser() -> argparse.ArgumentParser:
    connection = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: the options work before or after the command without one hiding the other.
    connection.add_argument(
        "--url", default=argparse.SUPPRESS, help=f"API base URL (${ENV_URL}; default {DEFAULT_URL})"
    )
    connection.add_argument("--api-key", default=argparse.SUPPRESS, help=f"API key (${ENV_API_KEY})")
    connection.add_argument(
        "--timeout", type=float, default=argparse.SUPPRESS, help="seconds per HTTP call (default 60)"
    )

    parser = argparse.ArgumentParser(
        prog="batchrelay",
        description="Client for a batchrelay gateway (local or deployed).",
        epilog="Exit codes: 0 ok, 1 API error, 2 usage error, 3 job failed/cancelled/expired (wait), "
        "4 wait timed out.",
        parents=[connection],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    submit = commands.add_parser("submit", parents=[connection], help="submit a JSONL file as a job")
    submit.add_argument("file", type=Path, help="JSONL, one {custom_id, body} request per line")
    submit.add_argument("--provider", required=True, choices=registry.names())
    submit.add_argument("--endpoint", required=True, help="e.g. /v1/chat/completions, /v1/messages or generateContent")
    submit.add_argument("--webhook-url", help="also POST the final event to this URL")
    submit.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE")
    submit.add_argument("--chunk-size", type=int)
    submit.add_argument("--max-attempts", type=int)
    submit.add_argument("--completion-window", help="where the provider offers a choice (Groq: 24h to 7d)")
    submit.add_argument("--max-batch-age-seconds", type=int,
                        help="cancel a batch still running this long and handle it as expired")
    submit.add_argument("--timeout-hours", type=int, help="hours the provider may run each batch (Mistral)")
    submit.add_argument("--idempotency-key", help="default: a new random key")
    submit.add_argument("--upload", action=argparse.BooleanOptionalAction, default=None,
                        help="force (or forbid) sending the file through POST /v1/uploads")
    submit.add_argument("--part-size", type=int, metavar="MIB",
                        help=f"upload in parts of this many MiB (at least {MIN_PART_MIB}); files beyond "
                        f"{MULTIPART_MIN_BYTES // MIB} MiB go in parts anyway")
    submit.add_argument("--wait", action="store_true", help="then wait for the job to end")
    submit.add_argument("--interval", type=float, default=2.0, help="seconds between checks with --wait")
    submit.add_argument("--json", action="store_true", help="print the job as JSON")

    status = commands.add_parser("status", parents=[connection], help="show a job")
    status.add_argument("job")
    status.add_argument("--json", action="store_true")

    wait = commands.add_parser("wait", parents=[connection], help="follow a job until it ends")
    wait.add_argument("job")
    wait.add_argument("--interval", type=float, default=2.0, help="seconds between checks")
    wait.add_argument("--wait-timeout", type=float, default=None, help="give up after this many seconds")
    wait.add_argument("--json", action="store_true", help="print the final job as JSON")

    results = commands.add_parser("results", parents=[connection], help="download a job's results.jsonl")
    results.add_argument("job")
    results.add_argument("-o", "--output", help="file to write ('-' for stdout; default JOB.jsonl)")
    results.add_argument("--manifest", help="also write manifest.json here")

    cancel = commands.add_parser("cancel", parents=[connection], help="cancel what has not finished")
    cancel.add_argument("job")
    cancel.add_argument("--json", action="store_true")

    delete = commands.add_parser(
        "delete", parents=[connection], help="delete a final job's data (input, chunk files, raw files, results)"
    )
    delete.add_argument("job")
    delete.add_argument("--json", action="store_true")

    jobs = commands.add_parser("jobs", parents=[connection], help="list jobs, newest first")
    jobs.add_argument("--status")
    jobs.add_argument("--limit", type=int, default=20)
    jobs.add_argument("--cursor")
    jobs.add_argument("--json", action="store_true")

    deliveries = commands.add_parser("deliveries", parents=[connection], help="a job's webhook delivery log")
    deliveries.add_argument("job")

    webhooks = commands.add_parser("webhooks", parents=[connection], help="manage webhook endpoints")
    hooks = webhooks.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)
    add = hooks.add_parser("add", parents=[connection], help="register a URL (prints its signing secret once)")
    # Not "url": that is the API's base URL option.
    add.add_argument("endpoint_url", metavar="URL")
    add.add_argument("--event-type", action="append", dest="event_types", metavar="TYPE")
    add.add_argument("--description")
    add.add_argument("--json", action="store_true")
    listing = hooks.add_parser("list", parents=[connection], help="list endpoints")
    listing.add_argument("--json", action="store_true")
    remove = hooks.add_parser("remove", parents=[connection], help="remove an endpoint")
    remove.add_argument("endpoint")
    test = hooks.add_parser("test", parents=[connection], help="send a signed test event")
    test.add_argument("endpoint")
    return parser


# --------------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        client = _client(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Request i of a submitted file sits on line line_map[i] (blank lines are skipped).
    args.line_map = []
    try:
        with client:
            return COMMANDS[args.command](client, args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ApiError as exc:
        line_map = None if isinstance(exc, InputFileError) else args.line_map or None
        print(error_line(exc, line_map), file=sys.stderr)
        return EXIT_API_ERROR
    except OSError as exc:  # reading the input or writing the results
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _client(args: argparse.Namespace) -> ApiClient:
    url = getattr(args, "url", None) or os.environ.get(ENV_URL) or DEFAULT_URL
    key = getattr(args, "api_key", None) or os.environ.get(ENV_API_KEY)
    if not key:
        raise UsageError(f"no API key: pass --api-key or set {ENV_API_KEY}")
    return ApiClient(url, key, timeout=getattr(args, "timeout", None) or 60.0)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


# --------------------------------------------------------------------------- submit
def read_requests(path: Path, line_map: list[int]) -> list[dict[str, Any]]:
    """Parse a JSONL file into request objects; ``line_map[i]`` is the file line of request i."""
    requests: list[dict[str, Any]] = []
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise InputFileError("invalid_request", f"{path}: not valid JSON: {exc.args[0]}", line=number) from exc
            if not isinstance(value, dict):
                raise InputFileError("invalid_request", f"{path}: each line must be a JSON object", line=number)
            requests.append(value)
            line_map.append(number)
    if not requests:
        raise InputFileError("invalid_request", f"{path}: no requests in the file")
    return requests


def should_upload(path: Path, forced: bool | None) -> bool:
    if forced is not None:
        return forced
    if path.stat().st_size > UPLOAD_MIN_BYTES:
        return True
    lines = 0
    with path.open("rb") as f:
        for _ in f:
            lines += 1
            if lines > UPLOAD_MIN_LINES:
                return True
    return False


def job_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"provider": args.provider, "endpoint": args.endpoint}
    if args.webhook_url:
        body["webhook_url"] = args.webhook_url
    if args.metadata:
        metadata = {}
        for item in args.metadata:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise UsageError(f"--metadata wants KEY=VALUE, got {item!r}")
            metadata[key] = value
        body["metadata"] = metadata
    if args.chunk_size is not None:
        body["chunk_size"] = args.chunk_size
    if args.max_attempts is not None:
        body["max_attempts"] = args.max_attempts
    if args.completion_window is not None:
        body["completion_window"] = args.completion_window
    if args.max_batch_age_seconds is not None:
        body["max_batch_age_seconds"] = args.max_batch_age_seconds
    if args.timeout_hours is not None:
        body["timeout_hours"] = args.timeout_hours
    return body


def cmd_submit(client: ApiClient, args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    body = job_body(args)
    if args.part_size is not None and args.part_size < MIN_PART_MIB:
        raise UsageError(f"--part-size is at least {MIN_PART_MIB} (MiB)")
    if args.part_size is not None or should_upload(path, args.upload):
        body["upload_id"] = upload_file(client, path, part_size_mib=args.part_size)
    else:
        body["requests"] = read_requests(path, args.line_map)
    job = client.create_job(body, idempotency_key=args.idempotency_key or str(uuid.uuid4()))
    if args.wait:
        if not args.json:
            print(f"{job['id']}  {job['status']}  ({job.get('request_count')} requests)", file=sys.stderr)
        return follow(client, job["id"], interval=args.interval, as_json=args.json)
    if args.json:
        _print_json(job)
    else:
        print(job["id"])
        if job["status"] == "validating":
            what = f"{path.stat().st_size} bytes of {job.get('provider')} requests, checked before they run"
        else:
            what = f"{job.get('request_count')} {job.get('provider')} requests"
        print(f"{job['status']}: {what}  (batchrelay wait {job['id']})", file=sys.stderr)
    return 0


def upload_file(client: ApiClient, path: Path, *, part_size_mib: int | None = None) -> str:
    """Send the file through POST /v1/uploads: one PUT, or in parts when it is big (or
    ``part_size_mib`` is given). Returns the upload's id."""
    size = path.stat().st_size
    if part_size_mib is None and size <= MULTIPART_MIN_BYTES:
        upload = client.create_upload()
        client.put_upload(upload, path)
        print(f"uploaded {path} ({size} bytes) as {upload['upload_id']}", file=sys.stderr)
        return str(upload["upload_id"])
    upload = client.create_upload(size=size, part_size=part_size_mib * MIB if part_size_mib else None)
    count = len(upload["parts"])
    tty = sys.stderr.isatty()

    def sent(done: int) -> None:
        if tty:
            print(f"\r\033[Kuploading {path}: part {done}/{count}", end="", file=sys.stderr, flush=True)

    parts = client.put_parts(upload, path, progress=sent)
    if tty:
        print(file=sys.stderr)
    client.complete_upload(upload["upload_id"], parts)
    print(f"uploaded {path} ({size} bytes, {count} parts) as {upload['upload_id']}", file=sys.stderr)
    return str(upload["upload_id"])


# --------------------------------------------------------------------------- follow a job
def cmd_status(client: ApiClient, args: argparse.Namespace) -> int:
    job = client.get_job(args.job)
    _print_json(job) if args.json else print(job_summary(job))
    return 0


def cmd_wait(client: ApiClient, args: argparse.Namespace) -> int:
    return follow(client, args.job, interval=args.interval, timeout=args.wait_timeout, as_json=args.json)


def follow(
    client: ApiClient, job_id: str, *, interval: float = 2.0, timeout: float | None = None, as_json: bool = False
) -> int:
    """Poll until the job is final. On a terminal: one bar redrawn in place; otherwise a line
    when something changed (at most every ``interval``) and at least every 30 s."""
    tty = sys.stderr.isatty()
    progress = Progress()
    deadline = time.monotonic() + timeout if timeout else None
    last_text, last_time = "", 0.0
    while True:
        job = client.get_job(job_id)
        text = progress.line(job)
        now = time.monotonic()
        if tty:
            print("\r\033[K" + text, end="", file=sys.stderr, flush=True)
        else:
            key = text.split("elapsed")[0]
            if key != last_text or now - last_time >= 30:
                print(text, file=sys.stderr, flush=True)
                last_text, last_time = key, now
        if job["status"] in FINAL:
            break
        if deadline and now >= deadline:
            if tty:
                print(file=sys.stderr)
            print(f"error: timeout: {job_id} is still {job['status']} after {timeout:g} s", file=sys.stderr)
            return EXIT_TIMEOUT
        time.sleep(interval)
    if tty:
        print(file=sys.stderr)
    _print_json(job) if as_json else print(job_summary(job))
    return EXIT_JOB_NOT_OK if job["status"] in FINAL_BAD else 0


# --------------------------------------------------------------------------- results
def cmd_results(client: ApiClient, args: argparse.Namespace) -> int:
    links = client.job_results(args.job)
    output = args.output or f"{args.job}.jsonl"
    if output == "-":
        client.download(links["results_url"], sys.stdout.buffer)
        sys.stdout.flush()
    else:
        size = _download_to(client, links["results_url"], Path(output))
        print(f"wrote {output} ({size} bytes, {links.get('status', '')})", file=sys.stderr)
    if args.manifest:
        _download_to(client, links["manifest_url"], Path(args.manifest))
        print(f"wrote {args.manifest}", file=sys.stderr)
    return 0


def _download_to(client: ApiClient, url: str, path: Path) -> int:
    """Write through a temporary file so that a failed download leaves no half file."""
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("wb") as f:
            size = client.download(url, f)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return size


# --------------------------------------------------------------------------- the rest
def cmd_cancel(client: ApiClient, args: argparse.Namespace) -> int:
    job = client.cancel_job(args.job)
    _print_json(job) if args.json else print(f"{job['id']}  {job['status']}")
    return 0


def cmd_delete(client: ApiClient, args: argparse.Namespace) -> int:
    answer = client.delete_job(args.job)
    if args.json:
        _print_json(answer)
        return 0
    removed = ", ".join(f"{kind} {n}" for kind, n in answer["removed"].items())
    print(f"{answer['id']}  {answer['status']}  removed: {removed}")
    if answer["status"] != "deleted":
        print(f"the rest goes on in the background: batchrelay status {answer['id']} shows it", file=sys.stderr)
    return 0


def cmd_jobs(client: ApiClient, args: argparse.Namespace) -> int:
    page = client.list_jobs(status=args.status, limit=args.limit, cursor=args.cursor)
    if args.json:
        _print_json(page)
        return 0
    print(jobs_table(page.get("data") or []))
    if page.get("next_cursor"):
        print(f"more: batchrelay jobs --cursor {page['next_cursor']}", file=sys.stderr)
    return 0


def cmd_deliveries(client: ApiClient, args: argparse.Namespace) -> int:
    _print_json(client.deliveries(args.job))
    return 0


def cmd_webhooks(client: ApiClient, args: argparse.Namespace) -> int:
    action = args.webhooks_command
    if action == "add":
        endpoint = client.add_webhook(args.endpoint_url, args.event_types, args.description)
        if args.json:
            _print_json(endpoint)
        else:
            print(endpoint["id"])
            print(f"secret {endpoint.get('secret')}  (shown once: keep it to verify signatures)", file=sys.stderr)
        return 0
    if action == "list":
        page = client.list_webhooks()
        if args.json:
            _print_json(page)
        else:
            for endpoint in page.get("data") or []:
                state = "enabled" if endpoint.get("enabled", True) else "disabled"
                types = ",".join(endpoint.get("event_types") or []) or "all events"
                print(f"{endpoint['id']}  {state}  {endpoint['url']}  {types}")
        return 0
    if action == "remove":
        client.remove_webhook(args.endpoint)
        print(f"removed {args.endpoint}", file=sys.stderr)
        return 0
    outcome = client.test_webhook(args.endpoint)
    if not outcome.get("delivered"):
        raise ApiError(
            "webhook_test_failed",
            f"not delivered (status {outcome.get('status_code')}): {outcome.get('error') or 'no detail'}",
        )
    print(f"delivered (status {outcome.get('status_code')})")
    return 0


COMMANDS = {
    "submit": cmd_submit,
    "status": cmd_status,
    "wait": cmd_wait,
    "results": cmd_results,
    "cancel": cmd_cancel,
    "delete": cmd_delete,
    "jobs": cmd_jobs,
    "deliveries": cmd_deliveries,
    "webhooks": cmd_webhooks,
}


if __name__ == "__main__":
    sys.exit(main())
