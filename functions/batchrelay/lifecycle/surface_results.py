"""A drop-in surface's view of a job's results, written when the job is finalized.

Run by the finalizer after results.jsonl and before the final status, so a batch that shows a
final status on its surface always has its files: the OpenAI surface's output and error files
(each also registered as a file of the tenant, purpose ``batch_output``), the Anthropic
surface's results file. Safe to repeat: the same keys, the same items.
"""

from __future__ import annotations

from batchrelay import constants as c
from batchrelay.models.files import StoredFile
from batchrelay.models.job import Job, SurfaceFile
from batchrelay.results.surface_files import write_surface_files
from batchrelay.settings import get_settings
from batchrelay.store import file_store


def write_surface_results(job: Job, *, now: float) -> dict[str, SurfaceFile]:
    if not job.surface:
        return {}
    files = write_surface_files(job)
    if job.surface == c.OPENAI_SURFACE:
        lifetime = get_settings().retention_days * 86400
        if job.output_expires_after:
            lifetime = min(lifetime, job.output_expires_after)
        for kind, file in files.items():
            assert file.file_id is not None
            file_store.put_file(
                StoredFile(
                    file_id=file.file_id,
                    tenant_id=job.tenant_id,
                    filename=f"batch_{job.job_id}_{kind}.jsonl",
                    bytes=file.bytes,
                    purpose="batch_output",
                    created_at=int(now),
                    expires_at=int(now) + lifetime,
                    key=file.key,
                    job_id=job.job_id,
                )
            )
    return files
