"""A job's results: its parts concatenated into results.jsonl, and manifest.json.

Streamed: a part is copied block by block into one multipart upload (memory does not grow
with the job). Every part's line count is checked against its summary and the total
against the job's request count, so a result file is never published short or long.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from batchrelay.aws.s3_keys import manifest_key, part_summary_key, results_key
from batchrelay.aws.s3_objects import get_json, object_blocks, put_json
from batchrelay.models.job import Job
from batchrelay.results.multipart_writer import MultipartWriter, WrittenObject
from batchrelay.results.pricing import Cost


@dataclass
class AssembledResults:
    written: WrittenObject
    parts: list[dict[str, Any]] = field(default_factory=list)
    usage_by_model: dict[str, dict[str, int]] = field(default_factory=dict)
    # Requests answered on demand, at the synchronous price (Bedrock below its minimum).
    on_demand_usage_by_model: dict[str, dict[str, int]] = field(default_factory=dict)


def assemble_results(job: Job, parts: list[tuple[str, str]]) -> AssembledResults:
    """Concatenate the parts ``[(chunk_id, part_key)]`` in chunk order into results.jsonl."""
    listed: list[dict[str, Any]] = []
    usage_by_model: dict[str, dict[str, int]] = {}
    on_demand_usage_by_model: dict[str, dict[str, int]] = {}
    with MultipartWriter(results_key(job.job_id), sha256=True) as results:
        for chunk_id, key in sorted(parts):
            summary = get_json(part_summary_key(job.job_id, chunk_id))
            digest, size, lines = hashlib.sha256(), 0, 0
            for block in object_blocks(key):
                results.write(block)
                digest.update(block)
                size += len(block)
                lines += block.count(b"\n")
            if lines != summary["lines"]:
                raise RuntimeError(f"part {key} has {lines} lines, its summary says {summary['lines']}")
            listed.append({"key": key, "lines": lines, "sha256": digest.hexdigest(), "bytes": size})
            for source, target in (("usage_by_model", usage_by_model),
                                   ("on_demand_usage_by_model", on_demand_usage_by_model)):
                for model, usage in summary.get(source, {}).items():
                    totals = target.setdefault(model, {})
                    for name, value in usage.items():
                        totals[name] = totals.get(name, 0) + value
        written = results.close()
    if written.lines != job.request_count or job.counts.total != job.request_count:
        raise RuntimeError(
            f"job {job.job_id}: {written.lines} result lines and {job.counts.total} counted outcomes "
            f"for {job.request_count} requests"
        )
    return AssembledResults(written=written, parts=listed, usage_by_model=usage_by_model,
                            on_demand_usage_by_model=on_demand_usage_by_model)


def write_manifest(job: Job, *, status: str, assembled: AssembledResults, cost: Cost, finished_at: str) -> str:
    cost_usd, sync_cost_usd = cost.as_strings()
    written = assembled.written
    key = manifest_key(job.job_id)
    put_json(
        key,
        {
            "job_id": job.job_id,
            "status": status,
            "provider": job.provider,
            "endpoint": job.endpoint,
            "request_count": job.request_count,
            "counts": job.counts.model_dump(),
            "usage": job.usage.model_dump(),
            "usage_by_model": assembled.usage_by_model,
            "on_demand_usage_by_model": assembled.on_demand_usage_by_model,
            # usd: what the job cost (batch prices; requests run on demand at the synchronous
            # price, on_demand_usd of it); sync_usd: the same work through the synchronous API.
            "cost": {"usd": cost_usd, "sync_usd": sync_cost_usd, "on_demand_usd": cost.on_demand_string,
                     "unpriced_models": cost.unpriced_models},
            "parts": assembled.parts,
            "results": {"key": written.key, "sha256": written.sha256, "lines": written.lines, "bytes": written.bytes},
            "created_at": job.created_at,
            "finished_at": finished_at,
        },
    )
    return key
