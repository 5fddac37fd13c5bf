"""The simulation's only coupling to batchrelay's code: the entry points it drives, as the
Lambda functions and the API call them. A refactor that moves one changes this module only.

Everything else the simulation touches is a stable seam outside the package: boto3 /
botocore (every AWS call), httpx2 (every provider SDK call), ``time`` and the id
generator, and the table's items and the bucket's objects as stored data.
"""

from __future__ import annotations

import time
from typing import Any

from batchrelay import constants as c

# Lambda timeouts, as deployed.
TIMEOUTS = {
    "submitter": c.FUNCTION_TIMEOUTS[c.FUNCTION_SUBMITTER],
    "collector": c.FUNCTION_TIMEOUTS[c.FUNCTION_COLLECTOR],
    "poller": c.FUNCTION_TIMEOUTS[c.FUNCTION_POLLER],
    "openai_webhook": c.FUNCTION_TIMEOUTS[c.FUNCTION_OPENAI_WEBHOOK],
    "api": c.FUNCTION_TIMEOUTS[c.FUNCTION_API],
}
QUEUE_CONSUMER = {c.JOBS_QUEUE: "submitter", c.COLLECT_QUEUE: "collector"}
MAX_RECEIVE_COUNT = c.MAX_RECEIVE_COUNT
POLLER_DEADLINE_MARGIN_S = 10.0     # handlers/poller.py stops this long before its timeout


def _typed(message: dict[str, Any], adapter_name: str) -> Any:
    """The message as the consumer takes it: a typed model where the code has them (parsed as
    the SQS consumer parses a record), else the plain dict of the first version."""
    try:
        from batchrelay.models import messages
    except ImportError:
        return message
    adapter = getattr(messages, adapter_name, None)
    return message if adapter is None else adapter.validate_python(message)


def handle_jobs_message(message: dict[str, Any]) -> Any:
    from batchrelay.lifecycle.submitter import handle_jobs_message as handle

    return handle(_typed(message, "JOBS_QUEUE_MESSAGE"))


def handle_collect_message(message: dict[str, Any]) -> Any:
    from batchrelay.lifecycle.collector import handle_collect_message as handle

    return handle(_typed(message, "COLLECT_QUEUE_MESSAGE"))


def run_poller() -> Any:
    """What the poller Lambda does on a scheduled event (handlers/poller.py)."""
    from batchrelay.lifecycle.poller import run_poll

    now = time.time()
    # run_poll's default clock is bound when its module is imported: pass the one that runs now.
    return run_poll(now=now, deadline=now + TIMEOUTS["poller"] - POLLER_DEADLINE_MARGIN_S, clock=time.time)


def handle_openai_webhook(body: str, headers: dict[str, str]) -> Any:
    try:
        from batchrelay.lifecycle.openai_fast_path import handle_openai_webhook as handle
    except ImportError:   # before the fast path moved into the lifecycle
        from batchrelay.providers.openai_webhook import handle_openai_webhook as handle

    return handle(body, headers)


class Refused(Exception):
    """The API answered 4xx: the request itself is wrong (the scenario asks for something this
    version of the API does not accept), so retrying cannot help."""


def chunk_size_floor() -> int:
    """The smallest chunk_size the API accepts for a job of more requests than it (1 before the floor)."""
    return int(getattr(c, "MIN_CHUNK_SIZE", 1))


def create_job(tenant_id: str, payload: dict[str, Any], idempotency_key: str) -> str:
    """POST /v1/jobs as the API does it; returns the job id (Refused for a 4xx answer)."""
    import orjson

    from batchrelay.errors import BatchRelayError
    from batchrelay.jobs import job_service
    from batchrelay.models.api import CreateJobRequest

    try:
        request = CreateJobRequest.model_validate(payload)
        job, _replayed = job_service.create_job(
            tenant_id, request, idempotency_key=idempotency_key, body_bytes=len(orjson.dumps(payload))
        )
    except BatchRelayError as exc:
        if exc.http_status < 500:
            raise Refused(f"{type(exc).__name__}: {exc}") from exc
        raise
    return job.id


def cancel_job(tenant_id: str, job_id: str) -> str:
    """POST /v1/jobs/{id}/cancel; "conflict" when the job can no longer be cancelled."""
    from batchrelay.errors import Conflict
    from batchrelay.jobs import job_service

    try:
        return job_service.cancel_job(tenant_id, job_id).status
    except Conflict:
        return "conflict"


def reset_container_caches() -> None:
    from batchrelay_tools.caches import reset_container_caches as reset

    reset()


def create_stack_resources() -> dict[str, str]:
    """The table, bucket, queues and topic, created as local mode creates them; the functions' env."""
    from batchrelay_tools.local.resources import create_resources

    return create_resources(prefix="sim")


def patch_ids(next_id: Any) -> Any:
    """Make batchrelay's ids come from ``next_id()``; returns a function that restores them."""
    from batchrelay import ids

    original = ids._ulid
    ids._ulid = next_id

    def restore() -> None:
        ids._ulid = original

    return restore


def simulated_plugin_providers() -> list[Any]:
    """The registered providers whose simulator is a module of simulator/providers (their SDKs
    point at the simulator's URL + their ``simulator_path``)."""
    from batchrelay import registry
    from batchrelay_tools.simulator import plugins

    return [spec for spec in registry.specs() if spec.name in plugins.PLUGINS]
