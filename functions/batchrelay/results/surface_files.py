"""A job's results.jsonl rewritten in its drop-in surface's shape (results.surface_lines),
streamed: one line in memory at a time, each file written as a multipart upload.

OpenAI: ``output.jsonl`` (what succeeded) and ``errors.jsonl`` (the rest), each only if it has
a line (a batch whose every request failed has no output file, as at OpenAI). Anthropic:
``results.jsonl``. Lines keep results.jsonl's order.
"""

from __future__ import annotations

from batchrelay import constants as c
from batchrelay.aws.s3_keys import results_key, surface_results_key
from batchrelay.aws.s3_objects import object_lines
from batchrelay.jsonl import dumps_line, loads_line
from batchrelay.models.job import Job, SurfaceFile
from batchrelay.results.multipart_writer import MultipartWriter
from batchrelay.results.surface_lines import anthropic_line, openai_line


def openai_file_id(job_id: str, kind: str) -> str:
    """The OpenAI file id of a job's output or error file: time-sortable like the job's id."""
    return f"file-{job_id.removeprefix('job_')}-{kind}"


def write_surface_files(job: Job) -> dict[str, SurfaceFile]:
    """Write the job's results in its surface's shape; by kind, what was written."""
    if job.surface == c.OPENAI_SURFACE:
        return _write_openai(job)
    if job.surface == c.ANTHROPIC_SURFACE:
        return _write_anthropic(job)
    return {}


def _write_openai(job: Job) -> dict[str, SurfaceFile]:
    writers: dict[str, MultipartWriter] = {}
    try:
        for raw in object_lines(results_key(job.job_id)):
            kind, line = openai_line(loads_line(raw), job_id=job.job_id)
            writer = writers.get(kind)
            if writer is None:
                writer = writers[kind] = MultipartWriter(surface_results_key(job.job_id, c.OPENAI_SURFACE, kind),
                                                         content_type="application/jsonl")
            writer.write(dumps_line(line))
        written = {kind: writer.close() for kind, writer in writers.items()}
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    return {
        kind: SurfaceFile(key=w.key, bytes=w.bytes, lines=w.lines, file_id=openai_file_id(job.job_id, kind))
        for kind, w in sorted(written.items())
    }


def _write_anthropic(job: Job) -> dict[str, SurfaceFile]:
    with MultipartWriter(surface_results_key(job.job_id, c.ANTHROPIC_SURFACE, "results"),
                         content_type="application/jsonl") as writer:
        for raw in object_lines(results_key(job.job_id)):
            writer.write(dumps_line(anthropic_line(loads_line(raw))))
        written = writer.close()
    return {"results": SurfaceFile(key=written.key, bytes=written.bytes, lines=written.lines)}
