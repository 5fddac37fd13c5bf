"""``make demo``: the whole flow on one machine in about a minute.

Starts the local stack (provider simulator with ~5% retryable per-request failures on
the first attempt), registers a webhook receiver on loopback, submits one job per
provider (``--providers``: every built-in provider by default), and runs a batch
through each official SDK (``openai`` and ``anthropic``) against its drop-in surface (base
URL and key changed, nothing else); shows progress, verifies the signed webhooks with
``standardwebhooks``, downloads each results.jsonl and the SDKs' results and prints a
summary. Exits 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchrelay import registry
from batchrelay_tools.cli.client import ApiClient, ApiError
from batchrelay_tools.cli.output import FINAL, Progress, cost_text
from batchrelay_tools.local.config import LocalConfig
from batchrelay_tools.local.stack import LocalStack
from batchrelay_tools.local.webhook_receiver import WebhookReceiver

PROVIDER_JOBS = {
    "openai": ("/v1/chat/completions", "gpt-4o-mini"),
    "anthropic": ("/v1/messages", "claude-haiku-4-5"),
    # Claude on Bedrock: the InvokeModel body (Messages with anthropic_version) and its model id.
    "bedrock": ("/model/invoke", "anthropic.claude-3-5-haiku-20241022-v1:0"),
    "azure_openai": ("/v1/chat/completions", "gpt-4o-mini"),   # the model is the batch deployment's name
    "groq": ("/v1/chat/completions", "llama-3.1-8b-instant"),
    "mistral": ("/v1/chat/completions", "mistral-small-latest"),
    "gemini": ("generateContent", "gemini-2.5-flash"),
}
DEFAULT_PROVIDERS = tuple(PROVIDER_JOBS)  # every built-in provider


def provider_job(provider: str) -> tuple[str, str]:
    """(endpoint, model) of a provider's demo workload; a configured OpenAI-compatible server
    runs its first endpoint with the first model of its prices (or "default")."""
    if provider in PROVIDER_JOBS:
        return PROVIDER_JOBS[provider]
    spec = registry.spec(provider)
    models = list((spec.prices or {}).get("models", {}))
    return spec.endpoints[0], models[0] if models else "default"


TOPICS = ("tides", "volcanoes", "bread", "bees", "comets", "rivers", "glaciers", "owls", "salt", "maps")


@dataclass
class DemoJob:
    provider: str
    job: dict[str, Any]
    progress: Progress = field(default_factory=Progress)
    results_path: Path | None = None
    result_lines: list[dict[str, Any]] = field(default_factory=list)


def demo_requests(provider: str, count: int) -> list[dict[str, Any]]:
    _, model = provider_job(provider)
    requests = []
    for i in range(count):
        prompt = f"In one sentence, tell me something surprising about {TOPICS[i % len(TOPICS)]} (#{i})."
        body = demo_body(provider, model, prompt)
        requests.append({"custom_id": f"{provider}-{i:05d}", "body": body})
    return requests


def demo_body(provider: str, model: str, prompt: str) -> dict[str, Any]:
    """One request in the provider's own format."""
    if provider == "gemini":
        return {"model": model, "contents": [{"role": "user", "parts": [{"text": prompt}]}],
                "generationConfig": {"maxOutputTokens": 64}}
    body: dict[str, Any] = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": prompt}]}
    if provider == "bedrock":
        body["anthropic_version"] = "bedrock-2023-05-31"
    return body


def _say(text: str = "") -> None:
    print(text, flush=True)


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.output = Path(args.output)
        self.failures: list[str] = []

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)
            _say(f"  FAILED: {what}")

    def run(self) -> int:
        started = time.monotonic()
        # The demo is about the flow, not about spending money: always the simulator.
        for spec in registry.specs():
            os.environ.pop(spec.api_key_env, None)
            os.environ.pop(spec.base_url_env, None)
        config = LocalConfig.from_env()
        config.port = 0
        config.poll_seconds = self.args.poll_seconds
        config.sim_processing_seconds = self.args.processing_seconds
        config.sim_failure_fraction = self.args.failure_fraction
        _say("== starting the local stack (AWS emulator, provider simulator, API, runtime)")
        with LocalStack(config) as stack, WebhookReceiver() as receiver, ApiClient(stack.url, stack.api_key) as api:
            info = stack.describe()
            _say(f"   API {info['url']}   key {info['api_key']}   AWS {info['aws_endpoint']}")
            _say(f"   simulator {info['simulator']}: batches take {config.sim_processing_seconds:g} s, "
                 f"{config.sim_failure_fraction:.0%} of requests fail once (retryable)")
            self.flow(api, receiver, stack)
        _say(f"== stack stopped; {time.monotonic() - started:.0f} s in all")
        if self.failures:
            _say(f"demo FAILED: {len(self.failures)} check(s): " + "; ".join(self.failures))
            return 1
        _say("demo OK")
        return 0

    def flow(self, api: ApiClient, receiver: WebhookReceiver, stack: LocalStack) -> None:
        _say(f"== registering a webhook receiver at {receiver.url}")
        endpoint = api.add_webhook(receiver.url, None, "batchrelay demo")
        secret = endpoint["secret"]
        _say(f"   endpoint {endpoint['id']} (secret {secret[:12]}...)")

        jobs: list[DemoJob] = []
        for provider in self.args.providers:
            endpoint_path, model = provider_job(provider)
            requests = demo_requests(provider, self.args.requests)
            job = api.create_job(
                {"provider": provider, "endpoint": endpoint_path, "requests": requests,
                 "chunk_size": self.args.chunk_size, "metadata": {"source": "demo"}}
            )
            jobs.append(DemoJob(provider, job))
            _say(f"== submitted {job['id']}: {len(requests)} {provider} requests ({model}), "
                 f"chunks of {self.args.chunk_size}")

        sdk_batch = self.openai_client_submit(stack)
        message_batch = self.anthropic_client_submit(stack)
        self.follow(api, jobs)
        self.openai_client_finish(stack, sdk_batch)
        self.anthropic_client_finish(stack, message_batch)
        _say("== waiting for the webhooks")
        job_ids = {j.job["id"] for j in jobs} | {sdk_batch.id, message_batch.id}
        arrived = receiver.wait_for_jobs(job_ids, timeout=self.args.webhook_timeout)
        self.check(arrived, "a webhook for every job")
        for hook in receiver.job_events():
            try:
                event = hook.verify(secret)
            except Exception as exc:
                self.check(False, f"webhook {hook.headers.get('webhook-id')} verifies: {exc}")
                continue
            _say(f"   {hook.headers.get('webhook-id')}  {event['type']}  job {hook.job_id}  "
                 "signature verified (standardwebhooks)")

        _say(f"== downloading results to {self.output}/")
        self.output.mkdir(parents=True, exist_ok=True)
        for demo_job in jobs:
            self.download(api, demo_job)
        self.summary(jobs)

    def _openai_client(self, stack: LocalStack) -> Any:
        import openai

        # The official SDK, unchanged: only the base URL and the key are batchrelay's.
        return openai.OpenAI(base_url=stack.url + "/openai/v1", api_key=stack.api_key)

    def openai_client_submit(self, stack: LocalStack) -> Any:
        client = self._openai_client(stack)
        _say(f"== the same through your existing OpenAI client: OpenAI(base_url={stack.url}/openai/v1, api_key=...)")
        lines = [{"custom_id": r["custom_id"].replace("openai", "sdk"), "method": "POST", "url": "/v1/chat/completions",
                  "body": r["body"]} for r in demo_requests("openai", self.args.requests)]
        content = "".join(json.dumps(line) + "\n" for line in lines).encode()
        file = client.files.create(file=("demo.jsonl", content), purpose="batch")
        batch = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions",
                                      completion_window="24h", metadata={"source": "demo"})
        _say(f"   files.create -> {file.id} ({file.bytes} bytes); batches.create -> {batch.id} ({batch.status})")
        return batch

    def openai_client_finish(self, stack: LocalStack, batch: Any) -> None:
        client = self._openai_client(stack)
        deadline = time.monotonic() + self.args.timeout
        while batch.status not in ("completed", "failed", "expired", "cancelled") and time.monotonic() < deadline:
            time.sleep(1.0)
            batch = client.batches.retrieve(batch.id)
        counts = batch.request_counts
        _say(f"   batches.retrieve -> {batch.status}: {counts.completed}/{counts.total} completed, "
             f"{counts.failed} failed; output file {batch.output_file_id}")
        self.check(batch.status == "completed" and counts.completed == self.args.requests,
                   f"the openai SDK's batch {batch.id} completed")
        if batch.output_file_id:
            self.output.mkdir(parents=True, exist_ok=True)
            path = (self.output / f"{batch.id}.openai-output.jsonl").resolve()
            path.write_bytes(client.files.content(batch.output_file_id).content)
            lines = [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
            self.check(len(lines) == self.args.requests and all(ln["response"]["status_code"] == 200 for ln in lines),
                       f"{batch.id}: one output line per request, in OpenAI's shape")
            _say(f"   files.content -> {path} ({len(lines)} lines)")

    def _anthropic_client(self, stack: LocalStack) -> Any:
        import anthropic

        # The official SDK, unchanged: only the base URL and the key are batchrelay's.
        return anthropic.Anthropic(base_url=stack.url + "/anthropic", api_key=stack.api_key)

    def anthropic_client_submit(self, stack: LocalStack) -> Any:
        client = self._anthropic_client(stack)
        _say(f"== and through your existing Anthropic client: Anthropic(base_url={stack.url}/anthropic, api_key=...)")
        requests = [{"custom_id": r["custom_id"].replace("anthropic", "claude"), "params": r["body"]}
                    for r in demo_requests("anthropic", self.args.requests)]
        batch = client.messages.batches.create(requests=requests)
        _say(f"   messages.batches.create -> {batch.id} ({batch.processing_status})")
        return batch

    def anthropic_client_finish(self, stack: LocalStack, batch: Any) -> None:
        client = self._anthropic_client(stack)
        deadline = time.monotonic() + self.args.timeout
        while batch.processing_status != "ended" and time.monotonic() < deadline:
            time.sleep(1.0)
            batch = client.messages.batches.retrieve(batch.id)
        counts = batch.request_counts
        _say(f"   messages.batches.retrieve -> {batch.processing_status}: {counts.succeeded} succeeded, "
             f"{counts.errored} errored; results_url {batch.results_url}")
        self.check(batch.processing_status == "ended" and counts.succeeded == self.args.requests,
                   f"the anthropic SDK's message batch {batch.id} succeeded")
        if batch.processing_status == "ended":
            self.output.mkdir(parents=True, exist_ok=True)
            path = (self.output / f"{batch.id}.anthropic-results.jsonl").resolve()
            results = list(client.messages.batches.results(batch.id))
            path.write_text("".join(r.model_dump_json() + "\n" for r in results))
            self.check(len(results) == self.args.requests and all(r.result.type == "succeeded" for r in results),
                       f"{batch.id}: one result per request, in Anthropic's shape")
            _say(f"   messages.batches.results -> {path} ({len(results)} results)")

    def follow(self, api: ApiClient, jobs: list[DemoJob]) -> None:
        tty = sys.stdout.isatty()
        deadline = time.monotonic() + self.args.timeout
        shown = 0
        last: list[str] = []
        while True:
            for demo_job in jobs:
                demo_job.job = api.get_job(demo_job.job["id"])
            lines = [f"   {j.provider:<12} {j.progress.line(j.job, width=24)}" for j in jobs]
            if tty:
                if shown:
                    print(f"\033[{shown}F", end="")
                print("\n".join("\033[K" + line for line in lines), flush=True)
                shown = len(lines)
            elif [ln.split("elapsed")[0] for ln in lines] != last:
                _say("\n".join(lines))
            last = [ln.split("elapsed")[0] for ln in lines]
            if all(j.job["status"] in FINAL for j in jobs):
                return
            if time.monotonic() > deadline:
                self.check(False, f"jobs ended within {self.args.timeout:g} s")
                return
            time.sleep(1.0)

    def download(self, api: ApiClient, demo_job: DemoJob) -> None:
        job = demo_job.job
        try:
            links = api.job_results(job["id"])
        except ApiError as exc:
            self.check(False, f"results of {job['id']}: {exc.code}: {exc.message}")
            return
        path = (self.output / f"{job['id']}.jsonl").resolve()
        with path.open("wb") as f:
            api.download(links["results_url"], f)
        demo_job.results_path = path
        demo_job.result_lines = [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        ids = {line["custom_id"] for line in demo_job.result_lines}
        self.check(len(demo_job.result_lines) == job["request_count"] == len(ids),
                   f"{job['id']}: one result line per request")

    def summary(self, jobs: list[DemoJob]) -> None:
        _say("== summary")
        for demo_job in jobs:
            job = demo_job.job
            counts = job.get("counts") or {}
            lines = demo_job.result_lines
            retried = sum(1 for line in lines if (line.get("attempts") or 1) > 1)
            max_attempts = max((line.get("attempts") or 1 for line in lines), default=0)
            chunks = job.get("chunks") or []
            originals = sum(1 for ch in chunks if (ch.get("attempt") or 1) == 1)
            # Retry chunks that got a batch of their own (small ones gathered into one do not).
            retry_batches = sum(1 for ch in chunks if (ch.get("attempt") or 1) > 1 and ch.get("batch_id"))
            on_demand = sum(1 for line in lines if line.get("service_tier") == "on_demand")
            usage = job.get("usage") or {}
            _say(f"   {demo_job.provider:<12} {job['id']}  {job['status']}")
            _say(f"             {job['request_count']} requests: {counts.get('succeeded', 0)} succeeded, "
                 f"{counts.get('errored', 0)} errored; {originals} chunks + "
                 f"{retry_batches} retry batches; {retried} requests needed a 2nd attempt "
                 f"(most attempts: {max_attempts})"
                 + (f"; {on_demand} answered on demand (below Bedrock's batch minimum)" if on_demand else ""))
            _say(f"             tokens {usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out; "
                 f"cost {cost_text(job['cost']) if job.get('cost') else 'n/a'}")
            _say(f"             results {demo_job.results_path}")
            self.check(job["status"] == "completed", f"{job['id']} completed (retries recovered every failure)")


def _provider_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in registry.names()]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown provider(s) {unknown}; registered: {', '.join(registry.names())}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batchrelay_tools.local.demo", description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="requests per provider")
    parser.add_argument("--chunk-size", type=int, default=100)
    parser.add_argument("--failure-fraction", type=float, default=0.05)
    parser.add_argument("--processing-seconds", type=float, default=3.0, help="simulated batch run time")
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=150.0, help="give up on the jobs after this")
    parser.add_argument("--webhook-timeout", type=float, default=30.0)
    parser.add_argument("--output", default="demo-output", help="where results.jsonl files go")
    parser.add_argument("--providers", type=_provider_list, default=DEFAULT_PROVIDERS,
                        help=f"comma-separated, of: {', '.join(registry.names())} (default: "
                             f"{','.join(DEFAULT_PROVIDERS)})")
    args = parser.parse_args(argv)
    try:
        return Demo(args).run()
    except ApiError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
