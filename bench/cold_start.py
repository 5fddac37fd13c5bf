"""Cold start of the `api` function: its init (importing the handler module) plus its first
request, against ``import boto3`` alone, each in a fresh interpreter (median of several).

The first request is GET /v1/jobs/{id} of a stored job on the AWS emulator (moto's server on
loopback): what a client polling a job meets on a new container. The goal is init plus the
first request at most 3x the bare boto3 import. ``-X importtime`` names the slowest imports
of the init, and the report lists what the first request still imports on its way.

Run: .venv/bin/python bench/cold_start.py   (last line: the figures)
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT / "tools")]
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
GOAL = 3.0

BOTO3_ONLY = """
import time
started = time.perf_counter()
import boto3
print(time.perf_counter() - started)
"""

API_COLD_START = """
import json, sys, time
started = time.perf_counter()
before = set(sys.modules)
from handlers.api import handler
init_s = time.perf_counter() - started
sys.path.insert(0, {tests!r})
from tests.support.lambda_events import api_event
from batchrelay_tools.local.lambda_context import context_for
after_init = set(sys.modules)  # the event's helpers are the test's, not the function's
event = api_event("GET", "/v1/jobs/{job_id}", api_key_id="tenant-bench")
started = time.perf_counter()
answer = handler(event, context_for("api"))
first_s = time.perf_counter() - started
assert answer["statusCode"] == 200, answer
late = sorted(m for m in set(sys.modules) - after_init if "." not in m)
print(json.dumps({{"init_s": init_s, "first_s": first_s, "late_imports": late}}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh(code: str, env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, *args, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"the measured interpreter failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr


def slowest_imports(env: dict[str, str], code: str, top: int = 10) -> list[tuple[str, float]]:
    """Import time of the init by package (each module's own time, summed per top-level
    package; -X importtime)."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True,
                         cwd=ROOT)
    by_package: dict[str, float] = {}
    for row in out.stderr.splitlines():
        parts = row.removeprefix("import time:").split("|")
        if not row.startswith("import time:") or len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        package = parts[2].strip().split(".", 1)[0]
        by_package[package] = by_package.get(package, 0.0) + int(parts[0]) / 1e6
    return sorted(by_package.items(), key=lambda kv: -kv[1])[:top]


def main() -> int:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    base = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "POWERTOOLS_METRICS_DISABLED": "true",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT / "tools"), str(ROOT)]),
            "BATCHRELAY_FUNCTION": "api", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    # Deployed, the function runs with active tracing: the X-Ray SDK is on (not disabled).
    base.pop("POWERTOOLS_TRACE_DISABLED", None)
    # As in Lambda: the SDK takes the trace from the environment and sends its segments
    # over UDP to the daemon's address (loopback here, nothing listens).
    base.update({"LAMBDA_TASK_ROOT": str(ROOT / "functions"), "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
                 "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                 "AWS_LAMBDA_FUNCTION_NAME": "batchrelay-api",
                 # as the stack sets it (infra/functions.py)
                 "PYDANTIC_DISABLE_PLUGINS": "__all__"})
    os.environ.update({k: v for k, v in base.items() if k.startswith("AWS_")})
    try:
        env = {**base, **seed_job()}
        baseline = statistics.median(float(fresh(BOTO3_ONLY, env)) for _ in range(RUNS))
        code = API_COLD_START.format(tests=str(ROOT), job_id="job_bench_cold")
        runs = [json.loads(fresh(code, env)) for _ in range(RUNS)]
    finally:
        server.stop()
    init_s = statistics.median(r["init_s"] for r in runs)
    first_s = statistics.median(r["first_s"] for r in runs)
    ratio = (init_s + first_s) / baseline
    print("import time of the init by package (s):",
          ", ".join(f"{name} {secs:.3f}" for name, secs in slowest_imports(env, "import handlers.api")))
    print("imported by the first request, not at init:", ", ".join(runs[0]["late_imports"]) or "nothing")
    print(("met     " if ratio <= GOAL else "MISSED  ")
          + f"init + first request = {ratio:.2f}x import boto3 (goal <= {GOAL:.0f}x)")
    print(f"import_boto3_ms={baseline * 1000:.0f} init_ms={init_s * 1000:.0f} first_request_ms={first_s * 1000:.0f} "
          f"ratio={ratio:.2f}")
    return 0 if ratio <= GOAL else 1


def seed_job() -> dict[str, str]:
    """The stack's resources on the emulator and one job of the bench tenant to read."""
    from batchrelay.clock import now_iso
    from batchrelay.models.job import Job, JobStatus
    from batchrelay.settings import get_settings
    from batchrelay.store import job_store
    from batchrelay_tools.local.resources import create_resources

    env = create_resources(prefix="cold")
    os.environ.update(env)
    get_settings.cache_clear()
    job_store.create_job(Job(job_id="job_bench_cold", tenant_id="tenant-bench", status=JobStatus.IN_PROGRESS,
                             provider="openai", endpoint="/v1/chat/completions", request_count=10, input_key="-",
                             created_at=now_iso(), updated_at=now_iso(), chunk_size=5000, max_attempts=3))
    return dict(env)


if __name__ == "__main__":
    sys.exit(main())
