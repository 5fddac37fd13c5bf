"""Collecting a batch loads only its own provider's SDK (``import anthropic`` alone is ~40 MB).

Each case runs the real ``collect_chunk`` (provider found through provider_lookup and the
registry, moto in-process, the provider's download replaced by canned result lines) in a
fresh interpreter, then looks at ``sys.modules``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import orjson
    from moto import mock_aws

    provider_name, endpoint, other_sdk = sys.argv[1:4]
    LINES = {
        "openai": lambda i: {"custom_id": f"req-{i}", "response": {"status_code": 200, "body": {
            "model": "gpt-4o-mini", "choices": [{"message": {"content": "x\\ry"}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}}, "error": None},
        "anthropic": lambda i: {"custom_id": f"req-{i}", "result": {"type": "succeeded", "message": {
            "model": "claude-3-5-haiku", "content": [{"type": "text", "text": "x\\ry"}],
            "usage": {"input_tokens": 1, "output_tokens": 2}}}},
    }

    with mock_aws():
        from batchrelay_tools.local.resources import create_resources
        os.environ.update(create_resources(prefix="imports"))
        from batchrelay.aws import clients
        from batchrelay.lifecycle import collector
        from batchrelay.lifecycle.chunk_planner import new_chunk
        from batchrelay.models.job import ChunkStatus, Job, JobStatus
        from batchrelay.providers.base import BatchInfo, RawFile
        from batchrelay.providers.adapters import get_provider
        from batchrelay.settings import get_settings
        from batchrelay.store import chunk_store, job_store
        from batchrelay.clock import now_iso

        job = Job(job_id="job_imports", tenant_id="t", status=JobStatus.IN_PROGRESS, provider=provider_name,
                  endpoint=endpoint, request_count=3, input_key="-", created_at=now_iso(), updated_at=now_iso(),
                  chunk_size=3, max_attempts=3, chunks_total=1)
        job_store.create_job(job)
        chunk = new_chunk(job, "c00001", request_count=3).model_copy(update={
            "status": ChunkStatus.ENDED, "batch_id": "batch_1", "batch_ids": ["batch_1"], "end_reason": "completed"})
        body = b"".join(orjson.dumps({"custom_id": f"req-{i}", "provider_custom_id": f"req-{i}",
                                      "body": {"messages": []}}) + b"\\n" for i in range(3))
        clients.s3().put_object(Bucket=get_settings().bucket_name, Key=chunk.input_key, Body=body)
        chunk_store.put_chunk(chunk)

        # The real adapter from the registry; only its two network calls are canned.
        provider = get_provider(provider_name)
        raw = b"".join(orjson.dumps(LINES[provider_name](i)).replace(b"\\\\r", b"\\r") + b"\\n" for i in range(3))
        type(provider).retrieve_batch = lambda self, batch_id: BatchInfo(
            batch_id, "ended", "ended", time.time(), end_reason="completed")
        type(provider).raw_result_files = lambda self, batch: iter([RawFile("output", iter([raw[:50], raw[50:]]))])

        outcome = collector.collect_chunk("job_imports", "c00001")
        assert outcome.startswith("collected 3 lines, 0 to retry"), outcome

    loaded = sorted(m for m in sys.modules if m.split(".")[0] == other_sdk)
    assert not loaded, loaded[:5]
    assert provider_name in sys.modules
    print("ok")
    """
)


@pytest.mark.parametrize(
    ("provider", "endpoint", "other_sdk"),
    [("openai", "/v1/chat/completions", "anthropic"), ("anthropic", "/v1/messages", "openai")],
)
def test_collecting_a_batch_never_imports_the_other_providers_sdk(provider, endpoint, other_sdk):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions")}
    for name in ("AWS_ENDPOINT_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, provider, endpoint, other_sdk],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_sdk_errors_are_translated_with_only_one_sdk_loaded():
    code = textwrap.dedent(
        """
        import sys
        import httpx2, openai
        from batchrelay.providers.base import ProviderError
        from batchrelay.providers.errors import translate_errors

        request = httpx2.Request("GET", "https://example.invalid")
        try:
            with translate_errors("openai"):
                raise openai.APIConnectionError(request=request)
        except ProviderError as exc:
            assert exc.retryable and exc.code == "connection_error", exc
        try:
            with translate_errors("openai"):
                raise KeyError("not an SDK error")
        except KeyError:
            pass
        assert "anthropic" not in sys.modules
        print("ok")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
