"""S3 keys of everything the lifecycle writes under results/ and raw/ (layout in constants.py)."""

from __future__ import annotations

from batchrelay import constants as c


def part_key(job_id: str, chunk_id: str) -> str:
    return f"{c.RESULTS_PREFIX}{job_id}/parts/{chunk_id}.jsonl"


def part_summary_key(job_id: str, chunk_id: str) -> str:
    """Counts and usage by model of one part (the finalizer prices and checks from these)."""
    return f"{c.RESULTS_PREFIX}{job_id}/parts/{chunk_id}.summary.json"


def raw_key(job_id: str, chunk_id: str, batch_id: str, name: str) -> str:
    return f"{c.RAW_PREFIX}{job_id}/{chunk_id}/{batch_id}/{name}.jsonl.gz"


def results_key(job_id: str) -> str:
    return f"{c.RESULTS_PREFIX}{job_id}/results.jsonl"


def manifest_key(job_id: str) -> str:
    return f"{c.RESULTS_PREFIX}{job_id}/manifest.json"
