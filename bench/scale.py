"""Scale benchmark: N requests end to end through the local stack, measured from outside.

A fixed workload: chat requests of about 500 input tokens (the simulator counts a token per
four characters of the request), answered with about 200 output tokens, at gpt-4o-mini's
list prices. The bench acts as a client over HTTP: it uploads the file through
POST /v1/uploads (in parts), creates the job, and polls it until it is final.

What it measures:
- create_s: from the upload's start to the create's answer; end_to_end_s: from the create's
  answer until the job is final (the simulator ends each batch 2 s after it is made; the
  local poller looks every 2 s);
- peak_mb_<function>: each function runs in a child process of its own (one warm container;
  bench/function_processes.py) and reports its RSS high-water mark, compared with 60% of
  the memory the CDK stack gives it;
- aws_calls_per_1k: the calls batchrelay makes to each AWS service per 1,000 requests,
  counted at the emulator (bench/aws_calls.py): the functions', Lambda's SQS pollers'
  receives that brought messages and their deletes, and the client's uploads to S3. Calls
  made by the clock rather than by the job are left out of it (they are in the bill):
  Lambda's empty long polls, the poller's due-index queries (one per provider per run,
  every 2 s here, every minute deployed) and the client's status reads (GET /v1/jobs/{id}
  every few seconds, the client's choice); ``details.clock_calls_per_hour`` has them;
- aws_usd_per_1m: batchrelay's own AWS bill per million requests (bench/aws_bill.py, prices
  in bench/aws_prices.json): Lambda GB-seconds at each function's configured memory (the
  measured wall time of its invocations here; the poller runs every 2 s here, every 60 s
  deployed, so its share is overstated), DynamoDB capacity units, S3 requests and the bytes
  left in S3 kept for the retention period, SQS, SNS, API Gateway, KMS, and the bytes sent
  to the provider (data transfer out); saved_usd_per_1m: what the batch discount saved on
  the same run (the job's own cost figures). Goal: the first under 1% of the second.

Run: .venv/bin/python bench/scale.py [--requests 1000000] [--compare bench/out/scale-100000.json]
(last line: the figures; the run's figures are also written to bench/out/scale-<N>.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions"), str(ROOT / "tools")]

from bench import aws_bill  # noqa: E402
from bench.aws_calls import CallLog, counting_moto_server  # noqa: E402
from bench.function_processes import FunctionProcesses  # noqa: E402

OUT = ROOT / "bench" / "out"
INPUT_TOKENS = 500
OUTPUT_TOKENS = 200
MODEL = "gpt-4o-mini"
MEMORY_GOAL = 0.60
MEASURED_FUNCTIONS = ("api", "submitter", "collector")
SERVICES = ("dynamodb", "s3", "sqs", "sns", "kms")

log = logging.getLogger("bench.scale")


# ------------------------------------------------------------------ the workload
def write_requests(path: Path, count: int) -> int:
    """``count`` chat requests of about INPUT_TOKENS tokens each, one JSON line each."""
    words = ("batch relay scale bench measures every request end to end through the local stack "
             "with the simulator answering each one ")
    prose = (words * (4 * INPUT_TOKENS // len(words) + 1))[: 4 * INPUT_TOKENS - 120]
    with path.open("wb") as handle:
        block: list[bytes] = []
        for i in range(count):
            line = {"custom_id": f"req-{i:08d}",
                    "body": {"model": MODEL, "max_tokens": 2 * OUTPUT_TOKENS,
                             "messages": [{"role": "user", "content": f"Request {i}: {prose}"}]}}
            block.append(json.dumps(line, separators=(",", ":")).encode() + b"\n")
            if len(block) == 10_000:
                handle.write(b"".join(block))
                block.clear()
        handle.write(b"".join(block))
    return path.stat().st_size


# ------------------------------------------------------------------ the run
def counting_transport(api_host: str) -> Any:
    """An HTTP transport that counts the client's requests to the API (API Gateway bills each)."""
    import httpx

    class CountingTransport(httpx.HTTPTransport):
        count = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if f"{request.url.host}:{request.url.port}" == api_host:
                CountingTransport.count += 1
            return super().handle_request(request)

    return CountingTransport()


def run(requests: int, *, workdir: Path) -> dict[str, Any]:
    import moto.server

    from batchrelay_tools.cli.client import ApiClient
    from batchrelay_tools.cli.main import upload_file
    from batchrelay_tools.local.config import LocalConfig
    from batchrelay_tools.local.stack import LocalStack

    path = workdir / "requests.jsonl"
    started = time.perf_counter()
    size = write_requests(path, requests)
    log.info("wrote %s requests (%.0f MB) in %.0f s", requests, size / 1e6, time.perf_counter() - started)

    calls = CallLog()
    moto.server.ThreadedMotoServer = counting_moto_server(calls)  # the stack imports it from there
    processes = FunctionProcesses()
    stack = LocalStack(LocalConfig(port=0, sim_processing_seconds=2.0), invoke=processes.invoke)
    stack.start()
    try:
        stack.simulator.configure(answer_tokens=OUTPUT_TOKENS)
        calls.reset()   # the stack's own set-up is not the job's
        host = stack.url.split("//", 1)[1].rstrip("/")
        transport = counting_transport(host)
        client = ApiClient(stack.url, stack.api_key, timeout=120, transport=transport)

        started = time.perf_counter()
        upload_id = upload_file(client, path)
        job = client.create_job({"provider": "openai", "endpoint": "/v1/chat/completions", "upload_id": upload_id})
        created = time.perf_counter()
        create_s = created - started
        log.info("created %s in %.1f s", job["id"], create_s)
        last = ""
        while True:
            job = client.get_job(job["id"])
            if job["status"] in ("completed", "failed", "cancelled", "expired") and job.get("finished_at"):
                break
            line = f"{job['status']} {job.get('request_counts') or job.get('counts')}"
            if line != last:
                log.info("%s", line)
                last = line
            time.sleep(2.0)
        end_to_end_s = time.perf_counter() - created
        stats = processes.stats()
        counted = snapshot(calls)
        figures = measure(stack, job, requests, create_s, end_to_end_s, stats, counted, transport.count)
        client.close()
        return figures
    finally:
        stack.stop()          # no more invocations ...
        processes.stop()      # ... then the containers go


def snapshot(calls: CallLog) -> dict[str, Any]:
    with calls.lock:
        return {"calls": Counter(calls.calls), "dynamo": list(calls.dynamo), "empty_receives": calls.empty_receives}


def stored(stack: Any) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Bytes in the bucket by top prefix, and the table's items (DynamoDB JSON), after the run."""
    import boto3

    from batchrelay import constants as c

    s3 = boto3.client("s3", endpoint_url=stack.aws_endpoint)
    bucket = stack.env[c.ENV_BUCKET_NAME]
    total: Counter[str] = Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            total[obj["Key"].split("/", 1)[0]] += obj["Size"]
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint)
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=stack.env[c.ENV_TABLE_NAME]):
        items.extend(page["Items"])
    return total, items


def measure(stack: Any, job: dict[str, Any], requests: int, create_s: float, end_to_end_s: float,
            stats: dict[str, dict[str, Any]], counted: dict[str, Any], api_requests: int) -> dict[str, Any]:
    from batchrelay import constants as c

    assert job["status"] == "completed", job
    per_1k = 1000 / requests
    s3_by_prefix, items = stored(stack)
    s3_bytes = sum(s3_by_prefix.values())
    mean = aws_bill.mean_sizes(items)
    units = aws_bill.dynamo_units(counted["dynamo"], mean)
    by_service: Counter[str] = Counter()
    s3_calls: Counter[str] = Counter()
    sqs_requests = sns_publishes = kms_requests = 0
    for (_origin, service, action), count in counted["calls"].items():
        if action == "ReceiveMessage (empty)":
            continue
        by_service[service] += count
        if service == "s3":
            s3_calls[action] += count
        elif service == "sqs":
            sqs_requests += count
        elif service == "sns" and action == "Publish":
            sns_publishes += count
        elif service == "kms":
            kms_requests += count
    ledger = stack.simulator.file_ledger()
    to_providers = sum(f["bytes"] for f in [*ledger["live"], *ledger["deleted"]] if f.get("purpose") == "batch")
    provider_calls = sum(n for route, n in stack.simulator.stats()["routes"].items() if "/_sim" not in route)
    gb_seconds = sum(s["busy_s"] * c.FUNCTION_MEMORY_MB[name] / 1024 for name, s in stats.items())
    invocations = sum(s["invocations"] for s in stats.values())
    usage = aws_bill.Usage(
        lambda_gb_seconds=gb_seconds, lambda_invocations=invocations, dynamo=units,
        dynamo_stored_bytes=sum(aws_bill.item_size(item) for item in items), s3_calls=s3_calls,
        s3_stored_bytes=s3_bytes, sqs_requests=sqs_requests, sns_publishes=sns_publishes,
        sns_http_deliveries=0, api_requests=api_requests, kms_requests=kms_requests,
        bytes_to_providers=to_providers, retention_days=c.DEFAULT_RETENTION_DAYS,
    )
    lines = aws_bill.bill(usage)
    per_1m = 1e6 / requests
    saved = float(job["cost"]["saved"])
    calls = {f"{o} {s} {a}": n for (o, s, a), n in sorted(counted["calls"].items())}
    job_calls = job_driven_per_1k(calls, requests)
    clock_calls = sum(n for (o, s, a), n in counted["calls"].items()
                      if (o, s, a) in CLOCK_DRIVEN or a == "ReceiveMessage (empty)")
    figures: dict[str, Any] = {
        "requests": requests,
        "create_s": round(create_s, 1),
        "end_to_end_s": round(end_to_end_s, 1),
        **{f"peak_mb_{name}": round(stats[name]["peak_mb"]) for name in MEASURED_FUNCTIONS if name in stats},
        "aws_calls_per_1k": "/".join(f"{s}:{n:.2f}" for s, n in job_calls.items()),
        "provider_calls": provider_calls,
        "aws_usd_per_1m": round(sum(lines.values()) * per_1m, 4),
        "saved_usd_per_1m": round(saved * per_1m, 2),
    }
    details = {
        "functions": {name: {**s, "memory_mb": c.FUNCTION_MEMORY_MB[name]} for name, s in stats.items()},
        "calls": calls,
        "calls_per_1k": job_calls,
        "all_calls_per_1k": {s: by_service[s] * per_1k for s in SERVICES},
        "clock_calls_per_hour": round(clock_calls * 3600 / max(1.0, create_s + end_to_end_s)),
        "dynamodb_units": {"write": units.write_units, "read": units.read_units, "by_action": dict(units.by_action)},
        "bill_usd_per_1m": {line: round(usd * per_1m, 5) for line, usd in lines.items()},
        "s3_stored_bytes": s3_bytes, "s3_bytes_by_prefix": dict(s3_by_prefix),
        "bytes_to_providers": to_providers, "api_requests": api_requests,
        "job_cost": job["cost"], "usage": job.get("usage"),
    }
    return {"figures": figures, "details": details}


# Calls made at a rate set by a clock, whatever the job's size: the poller's due-index queries
# and the API's reads of the job for the client's status polls (the create's own writes stay).
CLOCK_DRIVEN = {("poller", "dynamodb", "Query"), ("api", "dynamodb", "GetItem"), ("api", "dynamodb", "Query")}


def job_driven_per_1k(calls: dict[str, int], requests: int) -> dict[str, float]:
    """Calls per 1,000 requests by service, from ``details.calls`` ("origin service action")."""
    by_service: Counter[str] = Counter()
    for key, count in calls.items():
        origin, service, action = key.split(" ", 2)
        if action != "ReceiveMessage (empty)" and (origin, service, action) not in CLOCK_DRIVEN:
            by_service[service] += count
    return {service: by_service[service] * 1000 / requests for service in SERVICES}


# ------------------------------------------------------------------ report
def goals(result: dict[str, Any], compare: dict[str, Any] | None) -> list[tuple[str, bool]]:
    f, d = result["figures"], result["details"]
    checks = []
    for name in MEASURED_FUNCTIONS:
        info = d["functions"].get(name)
        if info:
            limit = MEMORY_GOAL * info["memory_mb"]
            checks.append((f"peak memory of {name}: {info['peak_mb']:.0f} MB <= {limit:.0f} MB "
                           f"(60% of {info['memory_mb']} MB)", info["peak_mb"] <= limit))
    share = f["aws_usd_per_1m"] / f["saved_usd_per_1m"]
    checks.append((f"own AWS cost {f['aws_usd_per_1m']:.4f} USD per 1M is {share:.2%} of the "
                   f"{f['saved_usd_per_1m']:.2f} USD the batch discount saved (goal < 1%)", share < 0.01))
    if compare:
        for service in SERVICES:
            here = d["calls_per_1k"][service]
            there = job_driven_per_1k(compare["details"]["calls"], compare["figures"]["requests"])[service]
            agree = math.isclose(here, there, rel_tol=0.10, abs_tol=0.05)
            checks.append((f"{service} calls per 1k: {here:.3f} here, {there:.3f} at "
                           f"{compare['figures']['requests']:,} requests (within 10%)", agree))
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--compare", type=Path, help="an earlier run's JSON (bench/out/scale-<N>.json)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    for noisy in ("batchrelay", "local", "werkzeug", "botocore", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="batchrelay-scale-") as tmp:
        result = run(args.requests, workdir=Path(tmp))
    out = OUT / f"scale-{args.requests}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    compare = json.loads(args.compare.read_text()) if args.compare and args.compare.exists() else None
    print(json.dumps(result["details"]["bill_usd_per_1m"]))
    ok = True
    for text, met in goals(result, compare):
        print(("met     " if met else "MISSED  ") + text)
        ok &= met
    print(" ".join(f"{k}={v}" for k, v in result["figures"].items()))
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
