"""Where everything lives in the bucket: the one module that builds S3 keys.

The prefixes (``constants``) are what the stack grants on and what the lifecycle rule
expires; every key below starts with one of them.

    inputs/<tenant>/<job_id>/input.jsonl                     a job's validated input
    inputs/<tenant>/<job_id>/validation/ids-<run>.bin        its id hashes, one run per validation step
    uploads/<tenant>/<upload_id>.jsonl                       a presigned upload; an OpenAI-surface file (file id)
    uploads/<tenant>/<upload_id>/parts/<part_id>             a part of an OpenAI-surface upload
    chunks/<job_id>/<chunk_id>/input.jsonl                   normalized lines {custom_id, provider_custom_id, body}
    chunks/<job_id>/<chunk_id>/provider.jsonl                the provider's request lines
    raw/<job_id>/<chunk_id>/<batch_id>/<name>.jsonl.gz       the provider's result files, as received
    results/<job_id>/parts/<chunk_id>.jsonl (+ .summary.json) one normalized part per chunk
    results/<job_id>/results.jsonl, manifest.json            the job's results
    results/<job_id>/<surface>/<kind>.jsonl                  its results in a drop-in surface's shape

A job's objects are everything under its four prefixes (``job_prefixes``): deleting a job's
data deletes them, whatever they are named.
"""

from __future__ import annotations

from batchrelay import constants as c


def input_key(tenant_id: str, job_id: str) -> str:
    return f"{c.INPUTS_PREFIX}{tenant_id}/{job_id}/input.jsonl"


def validation_run_key(tenant_id: str, job_id: str, run: int) -> str:
    """The id hashes one background validation step wrote (validation.duplicate_ids)."""
    return f"{c.INPUTS_PREFIX}{tenant_id}/{job_id}/validation/ids-{run:05d}.bin"


def upload_key(tenant_id: str, upload_id: str) -> str:
    return f"{c.UPLOADS_PREFIX}{tenant_id}/{upload_id}.jsonl"


def chunk_input_key(job_id: str, chunk_id: str) -> str:
    return f"{c.CHUNKS_PREFIX}{job_id}/{chunk_id}/input.jsonl"


def chunk_provider_key(job_id: str, chunk_id: str) -> str:
    return f"{c.CHUNKS_PREFIX}{job_id}/{chunk_id}/provider.jsonl"


def raw_key(job_id: str, chunk_id: str, batch_id: str, name: str) -> str:
    return f"{c.RAW_PREFIX}{job_id}/{chunk_id}/{batch_id}/{name}.jsonl.gz"


def part_key(job_id: str, chunk_id: str) -> str:
    return f"{c.RESULTS_PREFIX}{job_id}/parts/{chunk_id}.jsonl"


def part_summary_key(job_id: str, chunk_id: str) -> str:
    """Counts and usage by model of one part (the finalizer prices and checks from these)."""
    return f"{c.RESULTS_PREFIX}{job_id}/parts/{chunk_id}.summary.json"


def results_key(job_id: str) -> str:
    return f"{c.RESULTS_PREFIX}{job_id}/results.jsonl"


def manifest_key(job_id: str) -> str:
    return f"{c.RESULTS_PREFIX}{job_id}/manifest.json"


def job_prefixes(tenant_id: str, job_id: str) -> dict[str, str]:
    """Every prefix that holds objects of one job, by kind, results first (deleting them
    first makes result links stop working first). Each ends with "/": job_1 is not job_10."""
    return {
        "results": f"{c.RESULTS_PREFIX}{job_id}/",
        "raw_files": f"{c.RAW_PREFIX}{job_id}/",
        "chunk_files": f"{c.CHUNKS_PREFIX}{job_id}/",
        "inputs": f"{c.INPUTS_PREFIX}{tenant_id}/{job_id}/",
    }


def upload_part_key(tenant_id: str, upload_id: str, part_id: str) -> str:
    return f"{c.UPLOADS_PREFIX}{tenant_id}/{upload_id}/parts/{part_id}"


def surface_results_key(job_id: str, surface: str, kind: str) -> str:
    """A job's results in a drop-in surface's shape (OpenAI: output, errors; Anthropic: results)."""
    return f"{c.RESULTS_PREFIX}{job_id}/{surface}/{kind}.jsonl"
