"""The stored job and chunk, and their state machines."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from batchrelay.models.base import Model


class JobStatus(StrEnum):
    VALIDATING = "validating"  # created from an upload: its input is checked in the background
    QUEUED = "queued"
    SUBMITTING = "submitting"
    IN_PROGRESS = "in_progress"
    CANCELLING = "cancelling"  # cancel asked; provider batches are being cancelled
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    DELETING = "deleting"  # a final job whose data is being removed on request (then: no job)


FINAL_JOB_STATUSES = frozenset(
    {
        JobStatus.COMPLETED,
        JobStatus.COMPLETED_WITH_ERRORS,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.EXPIRED,
    }
)
ACTIVE_JOB_STATUSES = frozenset(
    {JobStatus.VALIDATING, JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.IN_PROGRESS, JobStatus.CANCELLING,
     JobStatus.FINALIZING}
)
# Which transitions the job store accepts (from -> allowed targets).
JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    # failed: a bad line (nothing was submitted); cancelling: it ends cancelled, unrun.
    JobStatus.VALIDATING: frozenset({JobStatus.SUBMITTING, JobStatus.CANCELLING, JobStatus.FAILED}),
    JobStatus.QUEUED: frozenset({JobStatus.SUBMITTING, JobStatus.CANCELLING, JobStatus.FAILED}),
    JobStatus.SUBMITTING: frozenset({JobStatus.IN_PROGRESS, JobStatus.CANCELLING, JobStatus.FAILED}),
    JobStatus.IN_PROGRESS: frozenset({JobStatus.FINALIZING, JobStatus.CANCELLING}),
    JobStatus.CANCELLING: frozenset({JobStatus.FINALIZING}),
    JobStatus.FINALIZING: FINAL_JOB_STATUSES,
    # DELETE /v1/jobs/{id}: only a final job; the job item is the last thing deleted.
    **{status: frozenset({JobStatus.DELETING}) for status in FINAL_JOB_STATUSES},
}


# Where a cancel is accepted: every status that may move to cancelling.
CANCELLABLE_JOB_STATUSES = tuple(s for s, targets in JOB_TRANSITIONS.items() if JobStatus.CANCELLING in targets)


class ChunkStatus(StrEnum):
    PENDING = "pending"        # planned; its input is in S3; no provider call yet
    CREATING = "creating"      # intent recorded: a batch may exist at the provider
    SUBMITTED = "submitted"    # batch id recorded; waiting on the provider (in the due index)
    HELD = "held"              # provider out of capacity (token_limit_exceeded); re-created later
    ENDED = "ended"            # the provider batch ended; handed to `collect`
    COLLECTED = "collected"    # its results part is in S3: final


CHUNK_TRANSITIONS: dict[ChunkStatus, frozenset[ChunkStatus]] = {
    ChunkStatus.PENDING: frozenset({ChunkStatus.CREATING, ChunkStatus.ENDED}),
    # back to PENDING when the provider refused the create outright (nothing was made)
    ChunkStatus.CREATING: frozenset(
        {ChunkStatus.SUBMITTED, ChunkStatus.HELD, ChunkStatus.ENDED, ChunkStatus.PENDING}
    ),
    ChunkStatus.SUBMITTED: frozenset({ChunkStatus.ENDED, ChunkStatus.HELD}),
    ChunkStatus.HELD: frozenset({ChunkStatus.CREATING, ChunkStatus.ENDED}),
    ChunkStatus.ENDED: frozenset({ChunkStatus.COLLECTED}),
}


class RequestCounts(Model):
    """Final per-request outcomes written to result parts so far."""

    succeeded: int = 0
    errored: int = 0
    expired: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.errored + self.expired + self.cancelled


class Usage(Model):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class InputValidation(Model):
    """Where the background validation of a job's uploaded input stands (lifecycle.input_validation).

    Stored on the job and moved on by one conditional write per step (``step`` is what the
    write compares), so a step that dies is redone from here, not from the start.
    """

    upload_key: str            # the upload, copied into the job's input_key first
    upload_etag: str           # as the API saw it: the copy is of that very object
    size_bytes: int
    chunk_size: int | None = None   # as the request asked; its floor needs the request count
    step: int = 0              # steps done
    copied: bool = False
    offset: int = 0            # bytes of the input checked; always the start of a line
    lines: int = 0             # lines checked, blank ones included (the next is lines + 1)
    requests: int = 0          # requests checked
    models: dict[str, int] = Field(default_factory=dict)
    runs: int = 0              # id-hash runs written (duplicate_ids), one per line step
    lines_done: bool = False
    buckets_checked: int = 0   # duplicate check: buckets done (of duplicate_ids.BUCKETS)
    # The earliest repeated custom_id confirmed so far: {"custom_id", "line", "first_line"}.
    duplicate: dict[str, Any] | None = None
    done: bool = False         # accepted: the job moved on to submitting


class PlanningProgress(Model):
    """Where planning a job's chunks stands (lifecycle.chunk_planner.plan_step).

    Stored on the job in the same transaction as each chunk it plans (``step`` counts those
    writes and is what each compares), so planning never redoes more than the one chunk a
    dead invocation was writing, and a planner stops between two chunks when its time runs
    short. Providers that take one model per batch are planned in one pass over the input per
    model (``models``, sorted); others in a single pass (``models == [None]``).
    """

    step: int = 0                  # chunks stored (and passes ended) so far
    models: list[str | None] | None = None  # the passes, one per model; None until planning begins
    model_index: int = 0           # the pass under way
    offset: int = 0                # byte offset, in the input, of the next line of this pass
    next_index: int = 1            # number of the next chunk to open (c00001, ...)
    done: bool = False


# Statuses whose start time a job records (``<status>_at``; final ones use finished_at).
TIMED_JOB_STATUSES = frozenset(
    {JobStatus.SUBMITTING, JobStatus.IN_PROGRESS, JobStatus.CANCELLING, JobStatus.FINALIZING}
)


class SurfaceFile(Model):
    """A job's results in a drop-in surface's own shape (written by the finalizer from results.jsonl)."""

    key: str                    # S3 key
    bytes: int
    lines: int
    file_id: str | None = None  # the OpenAI surface: the file's id


class JobOrigin(Model):
    """Where a job created through a drop-in surface came from (copied onto the Job)."""

    surface: str
    input_file_id: str | None = None
    output_expires_after: int | None = None


class Job(Model):
    job_id: str
    tenant_id: str
    status: JobStatus
    provider: str
    endpoint: str
    request_count: int
    input_key: str
    created_at: str
    updated_at: str
    chunk_size: int
    # Requests per body.model, counted at validation (empty for jobs created before that).
    models: dict[str, int] = Field(default_factory=dict)
    max_attempts: int
    metadata: dict[str, str] = Field(default_factory=dict)
    webhook_url: str | None = None
    idempotency_key: str | None = None
    counts: RequestCounts = Field(default_factory=RequestCounts)
    usage: Usage = Field(default_factory=Usage)
    chunks_total: int = 0          # chunks planned so far, retries included
    chunks_final: int = 0          # chunks collected
    submission_done: bool = False  # every original chunk is planned
    planning: PlanningProgress | None = None  # None: not begun (or begun before planning had steps)
    cancel_requested: bool = False  # set with the move to cancelling; decides the final status
    cost_usd: str | None = None
    sync_cost_usd: str | None = None
    results_key: str | None = None
    manifest_key: str | None = None
    finished_at: str | None = None
    error: dict[str, Any] | None = None
    # What holds the job up, while it does (e.g. a provider refusing the API key).
    status_detail: dict[str, Any] | None = None
    event_id: str | None = None
    event_published: bool = False
    # When it entered submitting, in_progress, cancelling and finalizing (job_store.transition_job).
    submitting_at: str | None = None
    in_progress_at: str | None = None
    cancelling_at: str | None = None
    finalizing_at: str | None = None
    # Created through a drop-in surface ("openai" | "anthropic"; constants.surfaces): its batch
    # id there is the job id, and the finalizer also writes its results in that surface's shape.
    surface: str | None = None
    input_file_id: str | None = None          # the OpenAI surface: the file it was created from
    output_expires_after: int | None = None   # the OpenAI surface: seconds its result files live
    surface_files: dict[str, SurfaceFile] = Field(default_factory=dict)   # by kind: output, errors, results
    # Jobs created from an upload (None for inline jobs and jobs stored before validation moved
    # to the background).
    validation: InputValidation | None = None
    version: int = 0
    # The job's TTL (epoch seconds: final time + retention days), set with the final status;
    # items_ttl_set once every other item of the job carries it too (lifecycle.item_expiry).
    expires_at: int | None = None
    items_ttl_set: bool = False
    deletion: JobDeletion | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_JOB_STATUSES

    @property
    def input_accepted(self) -> bool:
        """Its input passed validation, so its requests are known (False: the job never ran,
        nothing reached a provider, and it has no results)."""
        return self.validation is None or self.validation.done


class DeletionCounts(Model):
    """What a deletion removed, per kind (objects by prefix, provider files, table items)."""

    inputs: int = 0            # inputs/<tenant>/<job>/
    chunk_files: int = 0       # chunks/<job>/
    raw_files: int = 0         # raw/<job>/ (the providers' result files, as received)
    results: int = 0           # results/<job>/ (results, manifest, parts)
    provider_files: int = 0    # files the provider kept for the job's batches
    table_items: int = 0       # the job, its chunks, deliveries, batch claims, idempotency key


class JobDeletion(Model):
    """A deletion asked for with DELETE /v1/jobs/{id} and its progress."""

    requested_at: str
    previous_status: str
    removed: DeletionCounts = Field(default_factory=DeletionCounts)
    # Epoch seconds until which one step holds the deletion (one worker at a time).
    lease_until: float = 0.0


class ChunkCounts(Model):
    """What the provider last reported for the batch."""

    total: int = 0
    completed: int = 0
    failed: int = 0


class Chunk(Model):
    job_id: str
    chunk_id: str              # "c00001" for the job's own chunks, "c00001-r2" for retries
    provider: str
    endpoint: str
    status: ChunkStatus
    attempt: int = 1           # 1 for the first submission of these requests, 2 for a retry...
    request_count: int
    input_key: str             # normalized lines {"custom_id", "provider_custom_id", "body"}
    model: str | None = None   # the one model of its requests, for providers that need one per batch
    tenant_id: str = ""
    # Every provider id of the chunk starts with this tag; None for chunks planned before tags
    # (their recovery falls back to time and size).
    id_tag: str | None = None
    create_seq: int = 0        # how many times a batch creation (or a takeover) was started
    intent_at: float | None = None       # epoch seconds when the current creation began
    # Every moment a create call may have reached the provider: a batch of ours is searched
    # for around each of them until the chunk has its batch.
    intents: list[float] = Field(default_factory=list)
    held_reason: str | None = None       # why HELD: capacity | credentials
    held_since: float | None = None      # when the current hold for credentials began
    batch_id: str | None = None
    batch_ids: list[str] = Field(default_factory=list)   # every batch ever made for it
    batch_created_at: float | None = None
    provider_status: str | None = None
    counts: ChunkCounts = Field(default_factory=ChunkCounts)
    due_at: int | None = None  # next status check (epoch seconds); None = not in the index
    checks: int = 0
    ended_at: float | None = None
    end_reason: str | None = None        # completed | expired | cancelled | failed | lost (404)
    batch_errors: list[dict[str, Any]] = Field(default_factory=list)
    part_key: str | None = None
    # Provider files (input, output, errors) still to delete once collected; the poller's
    # safety net retries (lifecycle.provider_files) with growing waits (cleanup_attempts).
    files_pending_cleanup: bool = False
    cleanup_attempts: int = 0
    # One collector at a time: the one holding the lease (collect_seq fences the others).
    collect_seq: int = 0
    collect_lease_until: float | None = None
    created_at: str = ""
    updated_at: str = ""
