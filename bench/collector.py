"""Collector benchmark: a 50,000-line, ~100 MB OpenAI batch output through the collector's
code path (lifecycle.collector.collect_chunk with the real OpenAI adapter's line parser),
beside the naive way (read the whole file, json.loads each line, write the result whole).

S3 and DynamoDB are moto's server on loopback in this (parent) process; each variant runs
in its own child process, which reports its wall time and its peak RSS
(VmHWM from /proc/self/status: the resident-set high-water mark of the whole child,
interpreter and libraries included; the moto server's memory is not in it).

Run: .venv/bin/python bench/collector.py   (BENCH_LINES=... to change the size)
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

LINES = int(os.environ.get("BENCH_LINES", "50000"))
ANSWER_CHARS = 1750   # ~2 KB per output line -> ~100 MB for 50,000 lines
JOB_ID = "job_bench"
CHUNK_ID = "c00001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_provider_output(path: Path) -> int:
    filler = ("lorem ipsum dolor sit amet " * 100)[:ANSWER_CHARS]
    with path.open("wb") as handle:
        for i in range(LINES):
            record = {
                "id": f"batch_req_{i:08d}", "custom_id": f"req-{i:06d}",
                "response": {"status_code": 200, "request_id": f"r{i}", "body": {
                    "id": f"chatcmpl-{i}", "object": "chat.completion", "created": 1750000000,
                    "model": "gpt-4o-mini-2024-07-18",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": f"{i}: {filler}"},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 20, "completion_tokens": 400, "total_tokens": 420}}},
                "error": None,
            }
            handle.write(json.dumps(record).encode() + b"\n")
    return path.stat().st_size


def setup_stack(endpoint: str) -> dict[str, str]:
    """Resources on the moto server, plus the ended chunk the collector will collect."""
    import orjson

    from batchrelay.aws.clients import reset_clients
    from batchrelay.clock import now_iso
    from batchrelay.lifecycle.chunk_planner import new_chunk
    from batchrelay.models.job import ChunkStatus, Job, JobStatus
    from batchrelay.settings import get_settings
    from batchrelay.store import chunk_store, job_store, table
    from batchrelay_tools.local.resources import create_resources

    env = create_resources(prefix="bench")
    os.environ.update(env)
    get_settings.cache_clear()
    reset_clients()
    table.reset()
    job = Job(job_id=JOB_ID, tenant_id="t", status=JobStatus.IN_PROGRESS, provider="openai",
              endpoint="/v1/chat/completions", request_count=LINES, input_key="-", created_at=now_iso(),
              updated_at=now_iso(), chunk_size=LINES, max_attempts=3, chunks_total=1)
    job_store.create_job(job)
    chunk = new_chunk(job, CHUNK_ID, request_count=LINES).model_copy(
        update={"status": ChunkStatus.ENDED, "batch_id": "batch_bench", "batch_ids": ["batch_bench"],
                "end_reason": "completed"})
    body = b"".join(
        orjson.dumps({"custom_id": f"req-{i:06d}", "provider_custom_id": f"req-{i:06d}",
                      "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"q{i}"}]}}) + b"\n"
        for i in range(LINES)
    )
    from batchrelay.aws import clients

    clients.s3().put_object(Bucket=env["BUCKET_NAME"], Key=chunk.input_key, Body=body)
    chunk_store.put_chunk(chunk)
    return env


# ---------------------------------------------------------------- child variants
def run_collector(raw_path: str) -> None:
    from batchrelay.lifecycle import collector, provider_lookup
    from batchrelay.providers.base import BatchInfo, RawFile
    from batchrelay.providers.openai_provider import OpenAIProvider

    class FileBackedOpenAI(OpenAIProvider):
        """The real adapter's parsing; the provider's download replaced by the local file."""

        def retrieve_batch(self, batch_id: str) -> BatchInfo:
            return BatchInfo(batch_id, "completed", "ended", time.time(), end_reason="completed")

        def raw_result_files(self, batch: BatchInfo) -> Iterator[RawFile]:
            yield RawFile("output", self._read(raw_path))

        @staticmethod
        def _read(path: str) -> Iterator[bytes]:
            with open(path, "rb") as handle:
                while block := handle.read(1024 * 1024):
                    yield block

    provider = FileBackedOpenAI(api_key="unused")
    provider_lookup.provider_for = lambda name: provider  # type: ignore[assignment]
    baseline_mb = peak_rss_mb()   # interpreter + libraries, before any work
    started = time.perf_counter()
    outcome = collector.collect_chunk(JOB_ID, CHUNK_ID)
    elapsed = time.perf_counter() - started
    assert outcome.startswith(f"collected {LINES} lines"), outcome
    report(elapsed, baseline_mb)


def run_naive(raw_path: str) -> None:
    from batchrelay.aws import clients
    from batchrelay.settings import get_settings

    started = time.perf_counter()
    with open(raw_path, "rb") as handle:
        data = handle.read()
    results = []
    for line in data.splitlines():
        record = json.loads(line)
        body = record["response"]["body"]
        results.append(json.dumps({
            "custom_id": record["custom_id"], "status": "succeeded", "response": body, "error": None,
            "usage": body["usage"], "provider": "openai", "batch_id": "batch_bench", "attempts": 1,
        }))
    clients.s3().put_object(Bucket=get_settings().bucket_name, Key="results/naive.jsonl",
                            Body="\n".join(results).encode() + b"\n")
    elapsed = time.perf_counter() - started
    report(elapsed, 0.0)


def peak_rss_mb() -> float:
    """This process's own RSS high-water mark (VmHWM). ru_maxrss is not used on Linux: it
    carries over the parent's RSS through fork/exec, which here holds the moto server."""
    try:
        with open("/proc/self/status") as status:
            for row in status:
                if row.startswith("VmHWM:"):
                    return int(row.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(elapsed: float, baseline_mb: float) -> None:
    peak_mb = peak_rss_mb()
    print(json.dumps({"elapsed_s": elapsed, "peak_mb": peak_mb, "baseline_mb": baseline_mb}))


def child(variant: str, raw_path: str, env: dict[str, str]) -> dict[str, float]:
    """Run one variant; also report the CPU the S3/DynamoDB stand-in (moto, this process) spent
    serving it: the parent does nothing else meanwhile."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    out = subprocess.run(
        [sys.executable, __file__, variant, raw_path], env={**os.environ, **env}, check=True,
        capture_output=True, text=True,
    )
    after = resource.getrusage(resource.RUSAGE_SELF)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["moto_cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


def main() -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)   # the server's access log

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    base_env = {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench", "POWERTOOLS_TRACE_DISABLED": "true"}
    os.environ.update(base_env)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            raw_path = Path(tmp) / "output.jsonl"
            size = write_provider_output(raw_path)
            env = {**base_env, **setup_stack(endpoint)}
            size_mb = size / 1e6
            collector = child("collector", str(raw_path), env)
            naive = child("naive", str(raw_path), env)
            print(f"input: {LINES} lines, {size_mb:.1f} MB; collector wrote part + raw copy via multipart upload; "
                  f"peak = child RSS high-water (VmHWM)")
            print(f"collector: {collector['elapsed_s']:.2f} s   naive: {naive['elapsed_s']:.2f} s   "
                  f"collector child RSS before collecting (imports, incl. the openai SDK): "
                  f"{collector['baseline_mb']:.0f} MB")
            print(f"moto (S3/DynamoDB stand-in, parent process) CPU serving each: collector "
                  f"{collector['moto_cpu_s']:.2f} s (two objects, multipart), naive {naive['moto_cpu_s']:.2f} s "
                  f"(one PutObject)")
            print(f"collector_mb_s={size_mb / collector['elapsed_s']:.1f} collector_peak_mb={collector['peak_mb']:.0f} "
                  f"naive_mb_s={size_mb / naive['elapsed_s']:.1f} naive_peak_mb={naive['peak_mb']:.0f}")
    finally:
        server.stop()


if __name__ == "__main__":
    if len(sys.argv) == 3:
        {"collector": run_collector, "naive": run_naive}[sys.argv[1]](sys.argv[2])
    else:
        main()
