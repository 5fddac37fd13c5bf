"""What one seed simulates: tenants and their jobs, how the providers' batches behave, and
the fault mix. ``scenario_for_seed`` draws all of it from the seed; named scenarios
(scenarios.py) start from a seed and force a fault plan.

Every request body is unique in the whole run (its text names the tenant, the client's
own label for the job and the custom_id), while custom_ids repeat across tenants and
jobs: the ledger can tell which request was billed where, and a result line built from
another tenant's batch shows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

HOUR = 3600.0
DAY = 24 * HOUR
PROVIDERS = ("openai", "anthropic", "bedrock")
BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
# Bedrock's per-job record minimum in the simulation (100 by default): jobs of 1-2 requests and
# most retry chunks are below it (gathered, or run on demand), larger jobs run as batches.
BEDROCK_MIN_RECORDS = 3
# OpenAI's batch shape at other providers (issue 19): a seed's OpenAI jobs run on one of these
# half the time (entry_points.SIM_COMPATIBLE_SERVERS configures vllm_sim).
SHAPED_PROVIDERS = ("azure_openai", "groq", "vllm_sim")


@dataclass(frozen=True)
class JobPlan:
    tenant: str
    label: str                      # the client's own name for the job, unique in the run
    provider: str
    requests: int
    chunk_size: int
    max_attempts: int
    submit_at: float                # seconds after the start of the run
    cancel_at: float | None = None  # when the client cancels (None: never)
    cancel_on_collect: bool = False  # cancel the moment the job's first chunk is being collected
    cancel_tries: int = 3           # how many times the client tries a cancel that failed (5xx)
    odd_ids: bool = False           # custom_ids Anthropic refuses (batchrelay maps them to hashed ids)
    completion_window: str | None = None       # Groq's choice of window
    max_batch_age_seconds: int | None = None   # ends batches that providers never expire (Azure, vllm_sim)

    @property
    def endpoint(self) -> str:
        return {"anthropic": "/v1/messages", "bedrock": "/model/invoke", "gemini": "generateContent"}.get(
            self.provider, "/v1/chat/completions")

    def custom_ids(self) -> list[str]:
        if self.odd_ids:
            return [f"q {i:04d}/é" for i in range(self.requests)]
        return [f"q-{i:04d}" for i in range(self.requests)]

    def body(self, custom_id: str) -> dict:
        text = f"[{self.tenant}/{self.label}/{custom_id}] please answer"
        if self.provider == "anthropic":
            return {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": text}]}
        if self.provider == "bedrock":
            return {"model": BEDROCK_MODEL, "anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
                    "messages": [{"role": "user", "content": text}]}
        if self.provider == "mistral":
            return {"model": "mistral-small-latest", "messages": [{"role": "user", "content": text}]}
        if self.provider == "gemini":
            # The model in the API's own form, which batchrelay sends as it is.
            return {"model": "models/gemini-2.5-flash", "contents": [{"role": "user", "parts": [{"text": text}]}]}
        return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}

    def payload(self) -> dict:
        return {
            "provider": self.provider,
            "endpoint": self.endpoint,
            "requests": [{"custom_id": cid, "body": self.body(cid)} for cid in self.custom_ids()],
            "chunk_size": self.chunk_size,
            "max_attempts": self.max_attempts,
            **({"completion_window": self.completion_window} if self.completion_window else {}),
            **({"max_batch_age_seconds": self.max_batch_age_seconds} if self.max_batch_age_seconds else {}),
        }


@dataclass(frozen=True)
class Outage:
    """A window in which every call to a provider fails the same way."""

    provider: str
    start: float
    end: float
    kind: str = "server"            # server: 5xx / connection errors; auth: 401 (revoked key); forbidden: 403


@dataclass(frozen=True)
class ForcedCrash:
    """Kill the invocations whose crash point matches (fnmatch), at most ``times`` of them.

    A crash point is ``<kind>#<call index>:<call>:<before|after>``, for example
    ``submitter#9:anthropic.POST /v1/messages/batches:after`` (killed just after the provider
    accepted the batch). ``label`` filters on what the invocation works on (fnmatch too);
    ``skip`` lets the first matches pass (``skip=11``: the twelfth create is the one killed).
    """

    point: str
    times: int = 1
    label: str = "*"
    skip: int = 0                   # let this many matching points pass first


@dataclass(frozen=True)
class ForcedProviderFault:
    """Answer the first ``times`` calls named ``call`` (fnmatch) with this fault, e.g. an
    ambiguous create: ``ForcedProviderFault("anthropic.POST /v1/messages/batches", "status", 500, True)``;
    ``skip`` lets the first matching calls pass."""

    call: str
    kind: str = "status"            # status | connect | timeout | lost_answer
    status: int = 0
    applied: bool = False           # the provider did the work before the answer was lost
    times: int = 1
    skip: int = 0                   # let this many matching calls pass first


@dataclass(frozen=True)
class Faults:
    crash_per_call: float = 0.0         # killed before or after any call (AWS or provider)
    crash_after_create: float = 0.0     # killed right after the provider accepted a batch
    slow_call: float = 0.0              # a call that takes minutes (Lambda timeouts)
    sqs_duplicate: float = 0.0          # a message delivered twice
    sqs_lost: float = 0.0               # a message never delivered
    provider_error: float = 0.0         # 429 / 5xx / connection refused, before the call is applied
    provider_timeout: float = 0.0       # no answer within the SDK's timeout (applied or not)
    ambiguous_create: float = 0.0       # the provider made the batch, then the answer was lost
    webhook_lost: float = 0.0
    webhook_duplicate: float = 0.0
    aws_throttle: float = 0.0           # DynamoDB throttling / 5xx (botocore retries)
    outages: tuple[Outage, ...] = ()
    forced: tuple[ForcedCrash, ...] = ()
    forced_provider: tuple[ForcedProviderFault, ...] = ()
    lost_sends: tuple[str, ...] = ()    # fnmatch patterns over message bodies that are always lost
    duplicated_sends: tuple[str, ...] = ()  # fnmatch patterns over message bodies always delivered twice
    slow_s3_put: float = 0.0            # extra seconds on every S3 put (a throttled bucket)


@dataclass(frozen=True)
class BatchBehaviour:
    processing: tuple[float, float] = (120.0, 3600.0)   # seconds a batch runs, drawn per batch
    expire: float = 0.0                 # share of batches that expire part-way (partial results)
    token_limit: float = 0.0            # share of OpenAI batches refused for capacity (quota hold)
    vanish: float = 0.0                 # share of batches that start answering 404 while running
    retryable_failures: float = 0.0     # share of requests failing retryably (first attempt only)
    permanent_failures: float = 0.0     # share of requests failing for good (400)


@dataclass(frozen=True)
class Scenario:
    seed: int
    jobs: tuple[JobPlan, ...]
    faults: Faults = field(default_factory=Faults)
    batches: BatchBehaviour = field(default_factory=BatchBehaviour)
    concurrency: tuple[tuple[str, int], ...] = (("jobs", 4), ("collect", 4))
    webhooks: bool = True               # OpenAI's webhook fast path beside polling
    faults_end: float = 6 * HOUR        # no new faults after this (outages and hidden batches stay)
    horizon: float = 4 * DAY            # the run stops here whatever happens
    # After faults_end, this long without progress (a status, a batch, a check of a running
    # batch, a count) means stuck: longer than a capacity hold (2 h) or a visibility timeout (1 h).
    stall_window: float = 3 * HOUR
    name: str = ""

    def queue_concurrency(self, queue: str) -> int:
        return dict(self.concurrency)[queue]

    def with_faults(self, **changes) -> Scenario:
        return replace(self, faults=replace(self.faults, **changes))


# Providers added after the seeds were first recorded. Each seed draws its jobs and faults as
# before; a stream of its own then moves some OpenAI jobs to one of these (the same niche: a
# file upload, one model per batch, metadata to prove ownership) and may give one an outage,
# so a recorded seed keeps its tenants, sizes, timings and fault mix.
EXTRA_PROVIDERS = ("mistral",)
EXTRA_SHARE = 0.4


def _pick(rng: random.Random, *options):
    return options[rng.randrange(len(options))]


def _shaped(plan: JobPlan, rng: random.Random) -> JobPlan:
    """Half of a seed's OpenAI jobs run on an OpenAI-shaped provider instead, decided by a stream
    of their own (the seed's other draws stay as they were): Azure with a maximum batch age
    short enough for a run, Groq with a window of its choice, the configured server."""
    if plan.provider != "openai" or rng.random() < 0.5:
        return plan
    provider = _pick(rng, *SHAPED_PROVIDERS)
    if provider == "azure_openai":
        return replace(plan, provider=provider, max_batch_age_seconds=_pick(rng, 3600, 2 * 3600, 4 * 3600))
    if provider == "groq":
        return replace(plan, provider=provider, completion_window=_pick(rng, None, "24h", "48h", "7d"))
    return replace(plan, provider=provider)


def fit_chunk_size(chunk_size: int, requests: int, floor: int) -> int:
    """A chunk size the API accepts: at least ``floor``, or the whole job when it is smaller."""
    return max(chunk_size, min(floor, requests))


def scenario_for_seed(seed: int, *, chunk_size_floor: int | None = None) -> Scenario:
    """Everything about a run, drawn from the seed: a mix that makes every listed fault likely
    somewhere among a few hundred seeds and keeps one seed around a second of wall time."""
    if chunk_size_floor is None:
        from tests.simulation.entry_points import chunk_size_floor as api_floor

        chunk_size_floor = api_floor()
    rng = random.Random(f"batchrelay-simulation-{seed}")
    shaped_rng = random.Random(f"batchrelay-simulation-{seed}-openai-shaped")
    # Gemini (issue 17) takes half the jobs drawn for OpenAI, from a stream of its own: the rest
    # of every seed's scenario (sizes, times, faults) is what it was before Gemini joined.
    gemini = random.Random(f"batchrelay-simulation-gemini-{seed}")

    def maybe_gemini(provider: str) -> str:
        return "gemini" if provider == "openai" and gemini.random() < 0.5 else provider
    tenants = [f"tenant-{name}" for name in "abcd"[: rng.randint(2, 4)]]
    same_size = rng.random() < 0.4      # many same-size chunks (the Anthropic search's weak spot)
    big_job = rng.random() < 0.02       # one job of ~80 one-request chunks, on a slow bucket
    jobs: list[JobPlan] = []
    budget = 160                        # requests per seed, for speed
    size = _pick(rng, 1, 2, 3, 5)       # the one chunk size of a same-size seed
    if big_job:
        provider = maybe_gemini(_pick(rng, "openai", "anthropic"))
        big = rng.randint(60, 100)
        # ~80 chunks at the smallest chunk size the API accepts.
        jobs.append(JobPlan(tenant=tenants[0], label="big", provider=provider, requests=big * chunk_size_floor,
                            chunk_size=chunk_size_floor, max_attempts=1, submit_at=rng.uniform(0, 600)))
        budget -= big
    for index in range(rng.randint(2, 6)):
        provider = maybe_gemini(
            _pick(rng, "openai", "anthropic", "anthropic", "bedrock") if same_size else _pick(rng, *PROVIDERS))
        if same_size:
            chunk_size = size
            # Few-chunk jobs of one size: their chunks hold the same custom_ids across tenants.
            requests = chunk_size * _pick(rng, 1, 1, 2, 3, rng.randint(4, 10))
        else:
            requests = _pick(rng, 1, 2, 3, 5, 8, 12, 20, 30, 48)
            chunk_size = _pick(rng, 1, 2, 3, 5, 10, 25, 5000)
        requests = max(1, min(requests, budget))
        chunk_size = max(chunk_size, -(-requests // 12))    # at most 12 chunks per job
        chunk_size = fit_chunk_size(chunk_size, requests, chunk_size_floor)
        budget -= requests
        cancel_at = rng.uniform(0, 3 * HOUR) if rng.random() < 0.2 else None
        cancel_on_collect = cancel_at is None and rng.random() < 0.3
        jobs.append(JobPlan(
            tenant=_pick(rng, *tenants),
            label=f"j{index + 1}",
            provider=provider,
            requests=requests,
            chunk_size=chunk_size,
            max_attempts=_pick(rng, 1, 2, 3, 3),
            submit_at=rng.uniform(0, 120) if same_size else rng.uniform(0, 1800),
            cancel_at=cancel_at,
            cancel_on_collect=cancel_on_collect,
            cancel_tries=_pick(rng, 1, 2, 5),
            odd_ids=provider in ("anthropic", "bedrock") and rng.random() < 0.2,
        ))
        if budget <= 0:
            break

    # Each family of providers added after the seeds were first recorded draws from a stream of
    # its own, over the seed's original OpenAI jobs (so each stream is consumed as it was when
    # its family came): the OpenAI-shaped providers first, then Mistral for the OpenAI jobs they
    # left where they were.
    extra = random.Random(f"batchrelay-simulation-{seed}-extra-providers")
    moved = [replace(job, provider=extra.choice(EXTRA_PROVIDERS)) if job.provider == "openai"
             and extra.random() < EXTRA_SHARE else job for job in jobs]
    shaped = [_shaped(job, shaped_rng) for job in jobs]
    jobs = [shaped_job if shaped_job.provider != job.provider else moved_job
            for job, shaped_job, moved_job in zip(jobs, shaped, moved, strict=True)]

    outages: list[Outage] = []
    for provider in PROVIDERS:
        if rng.random() < 0.15:
            start = rng.uniform(0, 4 * HOUR)
            outages.append(Outage(provider, start, start + rng.uniform(300, 2 * HOUR), "server"))
        if rng.random() < 0.08:
            # A revoked key, or the placeholder secret right after deploy (from the start).
            start = _pick(rng, 0.0, rng.uniform(0, 1800), rng.uniform(0, 3 * HOUR))
            outages.append(Outage(provider, start, start + rng.uniform(300, 3600), _pick(rng, "auth", "forbidden")))
    for provider in SHAPED_PROVIDERS:
        if shaped_rng.random() < 0.1:
            start = shaped_rng.uniform(0, 4 * HOUR)
            kind = "server" if shaped_rng.random() < 0.7 else _pick(shaped_rng, "auth", "forbidden")
            outages.append(Outage(provider, start, start + shaped_rng.uniform(300, 2 * HOUR), kind))
    for provider in EXTRA_PROVIDERS:
        if extra.random() < 0.15:
            start = extra.uniform(0, 4 * HOUR)
            outages.append(Outage(provider, start, start + extra.uniform(300, 2 * HOUR),
                                  _pick(extra, "server", "server", "server", "auth")))
    if gemini.random() < 0.15:
        start = gemini.uniform(0, 4 * HOUR)
        outages.append(Outage("gemini", start, start + gemini.uniform(300, 2 * HOUR), "server"))
    if gemini.random() < 0.08:
        start = _pick(gemini, 0.0, gemini.uniform(0, 1800), gemini.uniform(0, 3 * HOUR))
        outages.append(Outage("gemini", start, start + gemini.uniform(300, 3600), _pick(gemini, "auth", "forbidden")))
    faults = Faults(
        crash_per_call=_pick(rng, 0.0, 0.0, 0.002, 0.01, 0.03),
        crash_after_create=_pick(rng, 0.2, 0.4, 0.6) if same_size else _pick(rng, 0.0, 0.0, 0.05, 0.2),
        slow_call=_pick(rng, 0.0, 0.0, 0.001, 0.005),
        sqs_duplicate=_pick(rng, 0.0, 0.02, 0.1, 0.3),
        sqs_lost=_pick(rng, 0.0, 0.0, 0.0, 0.01, 0.05),
        provider_error=_pick(rng, 0.0, 0.02, 0.1, 0.3),
        provider_timeout=_pick(rng, 0.0, 0.0, 0.01, 0.05),
        ambiguous_create=_pick(rng, 0.0, 0.0, 0.05, 0.2),
        webhook_lost=_pick(rng, 0.0, 0.1, 0.5),
        webhook_duplicate=_pick(rng, 0.0, 0.1, 0.3),
        aws_throttle=_pick(rng, 0.0, 0.0, 0.01),
        outages=tuple(outages),
        slow_s3_put=4.0 if big_job else 0.0,
    )
    batches = BatchBehaviour(
        processing=_pick(rng, (60.0, 600.0), (120.0, 3600.0), (600.0, 4 * HOUR)),
        expire=_pick(rng, 0.0, 0.0, 0.05, 0.2),
        token_limit=_pick(rng, 0.0, 0.0, 0.05, 0.2),
        vanish=_pick(rng, 0.0, 0.0, 0.0, 0.0, 0.02),
        retryable_failures=_pick(rng, 0.0, 0.05, 0.2),
        permanent_failures=_pick(rng, 0.0, 0.0, 0.05),
    )
    concurrency = (("jobs", _pick(rng, 1, 2, 4, 8)), ("collect", _pick(rng, 1, 2, 4, 8)))
    return Scenario(seed=seed, jobs=tuple(jobs), faults=faults, batches=batches, concurrency=concurrency,
                    webhooks=rng.random() < 0.7)
