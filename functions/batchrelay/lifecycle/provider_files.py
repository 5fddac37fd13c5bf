"""Delete the files a provider keeps for a chunk's batches once the chunk is collected.

OpenAI keeps each batch's input, output and error file in the organization's file storage
(batch files expire after 30 days by default; until then they count against its storage).
Once a chunk is COLLECTED its answers are in S3, with the provider's raw files kept under
``raw/``, so the provider's copies can go (providers whose registry entry says
``input_files``):

- the collector marks the chunk COLLECTED with ``files_pending_cleanup`` and leaves it in the
  due index for a while, in the same transaction that counts it: the duty is recorded before
  anything is deleted and survives a crash. Files go only after the chunk is counted, so a
  redelivered `collect` never finds them missing;
- the collector then deletes them at once (every batch the chunk ever had: refused and
  retried ones too); success clears the flag and takes the chunk out of the index;
- a failure is logged and the chunk waits, longer each time (``cleanup_delay``), for the
  poller, which sends `cleanup` to the collect queue (the safety net). The job never waits
  for any of it. A chunk that is deleted or expires ends its retries.
"""

from __future__ import annotations

import logging
import time

from batchrelay import registry
from batchrelay.lifecycle import provider_lookup
from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S
from batchrelay.models.job import Chunk, ChunkStatus
from batchrelay.providers.base import BatchInfo, BatchProvider, ProviderError
from batchrelay.store import chunk_store

logger = logging.getLogger(__name__)

CLEANUP_MAX_DELAY_S = 6 * 3600


def cleanup_delay(attempts: int) -> int:
    """Seconds until the next try after ``attempts`` failed ones: 30 min, 1 h, 2 h ... 6 h."""
    return int(min(SAFETY_NET_S * 2 ** min(attempts, 10), CLEANUP_MAX_DELAY_S))


def needs_cleanup(chunk: Chunk) -> bool:
    """Whether the chunk's batches left files at the provider."""
    return bool(chunk.batch_ids) and registry.spec(chunk.provider).capabilities.input_files


def delete_batch_files(provider: BatchProvider, batch_ids: list[str], known: dict[str, BatchInfo]) -> list[str]:
    """Delete the files of these batches; returns the ids gone. ``known``: batches already read.

    Raises ProviderError when something is left to try again (a batch still running keeps
    its files: its input is still read).
    """
    deleted: list[str] = []
    for batch_id in batch_ids:
        info = known.get(batch_id)
        if info is None:
            try:
                info = provider.retrieve_batch(batch_id)
            except ProviderError as exc:
                if exc.status_code == 404:
                    continue  # the provider no longer has the batch, nor its files
                raise
        if info.state != "ended":
            raise ProviderError(f"batch {batch_id} is still {info.provider_status}", retryable=True)
        deleted += provider.delete_files(info)
    return deleted


def clean_up_chunk_files(
    job_id: str, chunk_id: str, *, known: dict[str, BatchInfo] | None = None, now: float | None = None
) -> str:
    """One cleanup attempt of a collected chunk (collector; the `cleanup` message)."""
    now = time.time() if now is None else now
    chunk = chunk_store.find_chunk(job_id, chunk_id)
    if chunk is None:
        return "chunk is gone"
    if chunk.status != ChunkStatus.COLLECTED or not chunk.files_pending_cleanup:
        return "no provider files to delete"
    provider = provider_lookup.provider_for(chunk.provider)
    try:
        deleted = delete_batch_files(provider, chunk.batch_ids, known or {})
    except ProviderError as exc:
        attempts = chunk.cleanup_attempts + 1
        delay = cleanup_delay(attempts)
        logger.warning(
            "chunk %s/%s: deleting provider files failed (attempt %d): %s; trying again in %ds",
            job_id, chunk_id, attempts, exc.message, delay,
        )
        chunk_store.cleanup_failed(chunk, attempts=attempts, due_at=int(now) + delay)
        return f"provider files not deleted ({exc.message}); again in {delay}s"
    chunk_store.files_cleaned(chunk)
    return f"deleted {len(deleted)} provider files"


def clean_up_quietly(
    job_id: str, chunk_id: str, *, known: dict[str, BatchInfo] | None = None, now: float | None = None
) -> str:
    """A cleanup on the way to something else (collecting): nothing it meets may stop that."""
    try:
        return clean_up_chunk_files(job_id, chunk_id, known=known, now=now)
    except Exception:
        logger.exception("chunk %s/%s: cleaning up provider files failed; the poller retries", job_id, chunk_id)
        return "provider files left for the safety net"
