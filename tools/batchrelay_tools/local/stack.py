"""The whole stack on one machine: AWS emulator, resources, provider simulator, API, runtime.

``LocalStack(config).start()`` configures this process's environment the way the CDK
stack configures each function's, so that the handlers run unchanged.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

import httpx

from batchrelay import constants as c
from batchrelay import registry
from batchrelay.registry import ProviderSpec
from batchrelay_tools.caches import reset_container_caches
from batchrelay_tools.local.api_gateway import ApiGateway, ApiServer, api_key_id
from batchrelay_tools.local.atomic_dynamodb import serialize_dynamodb_writes
from batchrelay_tools.local.config import LOOPBACK, LocalConfig
from batchrelay_tools.local.handler_loader import Handler, ensure_functions_on_path, load_handler
from batchrelay_tools.local.lambda_runtime import LambdaRuntime, queue_sources
from batchrelay_tools.local.resources import create_resources, queue_urls, register_api_keys

# Not under "batchrelay": that is the Powertools logger (JSON) of the functions.
log = logging.getLogger("local." + __name__.rsplit(".", 1)[-1])

REGION = "us-east-1"
SIMULATOR_API_KEY = "sk-local-simulator"
# The shortest delay between two status checks of a batch (deployed: the 60 s schedule).
# Libraries whose per-request logs would drown the stack's own output.
_NOISY_LOGGERS = ("werkzeug", "botocore", "urllib3", "httpx", "httpx2", "httpcore", "openai", "anthropic", "moto")


def simulator_env(spec: ProviderSpec, simulator_url: str) -> dict[str, str]:
    """The variables that route a provider's SDK to the local simulator (its key is a dummy)."""
    return {spec.api_key_env: SIMULATOR_API_KEY, spec.base_url_env: simulator_url + spec.simulator_path}


class HandlerCache:
    """One warm container per function: the handler is imported once, and invocations of
    the same function run one at a time, as in one Lambda container. (Module-level state
    such as the API resolver's current event is per container, not per invocation.)"""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def invoke(self, function: str, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            lock = self._locks.setdefault(function, threading.Lock())
        with lock:
            handler = self._handlers.get(function)
            if handler is None:
                handler = self._handlers[function] = self._load(function)
            return handler(event, context)

    def _load(self, function: str) -> Handler:
        try:
            return load_handler(function)
        except ModuleNotFoundError as exc:
            if exc.name != f"handlers.{function}":
                raise
            raise HandlerMissing(function) from exc


class HandlerMissing(RuntimeError):
    def __init__(self, function: str) -> None:
        super().__init__(f"no handler for the {function} function (functions/handlers/{function}.py)")
        self.function = function


@dataclass
class LocalStack:
    config: LocalConfig = field(default_factory=LocalConfig.from_env)
    invoke: Any = None  # (function, event, context) -> result; default: the real handlers
    env: dict[str, str] = field(default_factory=dict)
    simulated_providers: list[str] = field(default_factory=list)
    simulator: Any = None
    _moto: Any = None
    _undo_atomic_writes: Any = None
    _api: ApiServer | None = None
    _runtime: LambdaRuntime | None = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    # --- addresses ---
    @property
    def url(self) -> str:
        assert self._api, "not started"
        return self._api.url

    @property
    def aws_endpoint(self) -> str:
        return self.env["AWS_ENDPOINT_URL"]

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def api_keys(self) -> list[str]:
        """Every tenant's key (the usage plan's keys)."""
        return [self.config.api_key, *self.config.extra_api_keys]

    @property
    def tenant_id(self) -> str:
        return api_key_id(self.config.api_key)

    @property
    def runtime(self) -> LambdaRuntime:
        assert self._runtime, "not started"
        return self._runtime

    # --- lifecycle ---
    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        from moto.server import ThreadedMotoServer

        for name in _NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        # Functions that emit no metric in an invocation are normal here.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self.config.ensure_api_key()
        ensure_functions_on_path()

        # The functions race on conditional writes as they would in AWS; give moto the
        # service's per-item atomicity so exactly one racer wins here too.
        self._undo_atomic_writes = serialize_dynamodb_writes()
        self._moto = ThreadedMotoServer(ip_address=LOOPBACK, port=self.config.aws_port, verbose=False)
        self._moto.start()
        _, aws_port = self._moto.get_host_and_port()
        self._set_env(
            {
                "AWS_ENDPOINT_URL": f"http://{LOOPBACK}:{aws_port}",
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_PROFILE": None,
                "POWERTOOLS_TRACE_DISABLED": "true",
                c.ENV_POWERTOOLS_SERVICE_NAME: c.SERVICE_NAME,
                c.ENV_POWERTOOLS_METRICS_NAMESPACE: c.METRICS_NAMESPACE,
                # Webhook receivers on this machine are plain http on loopback.
                c.ENV_WEBHOOK_ALLOW_HTTP: "1",
                c.ENV_WEBHOOK_ALLOW_LOOPBACK: "1",
                # The runtime runs one invocation of a function at a time, so no second
                # delivery can overlap a live batch creation; a failed one retries in seconds.
                c.ENV_CREATION_LEASE_SECONDS: "0",
            }
        )
        # Quiet by default; set these to see the functions' structured logs and metrics.
        self._default_env("POWERTOOLS_METRICS_DISABLED", "true")
        self._default_env(c.ENV_POWERTOOLS_LOG_LEVEL, "WARNING")
        self._default_env(c.ENV_OPENAI_WEBHOOK_SECRET, "whsec_" + secrets.token_urlsafe(24))

        reset_container_caches()
        resources = create_resources(region=REGION)
        register_api_keys({key: api_key_id(key) for key in self.api_keys}, region=REGION)
        self._set_env(dict(resources))
        self._start_providers()
        self._apply_local_timings()
        reset_container_caches()
        _warm_clients()

        invoke = self.invoke or HandlerCache().invoke
        gateway = ApiGateway(self.api_keys, invoke, region=REGION)
        self._api = ApiServer(gateway, host=LOOPBACK, port=self.config.port).start()

        from batchrelay.aws.clients import sqs

        self._runtime = LambdaRuntime(
            sqs(),
            queue_sources(sqs(), queue_urls(resources)),
            invoke,
            region=REGION,
            poll_seconds=self.config.poll_seconds,
            retry_seconds=self.config.retry_seconds,
            concurrency=self.config.concurrency,
        ).start()

    def _start_providers(self) -> None:
        """The simulator stands in for every provider without a real key in the environment."""
        self.simulated_providers = [s.name for s in registry.specs() if not os.environ.get(s.api_key_env)]
        if not self.simulated_providers:
            return
        from batchrelay_tools.simulator.server import SimulatorServer
        from batchrelay_tools.simulator.settings import FailureRule, SimulatorSettings

        settings = SimulatorSettings(processing_seconds=self.config.sim_processing_seconds)
        if self.config.sim_failure_fraction > 0:
            settings.failure_rules = [
                FailureRule(fraction=self.config.sim_failure_fraction, kind="retryable", first_attempt_only=True)
            ]
        self.simulator = SimulatorServer(settings, host=LOOPBACK).start()
        for provider in self.simulated_providers:
            self._set_env(simulator_env(registry.spec(provider), self.simulator.base_url))

    def _apply_local_timings(self) -> None:
        """Check running batches on every local poller tick instead of once a minute at best.

        Deployed, the schedule fires every minute, so the poll schedule never looks sooner.
        Locally the schedule fires every ``poll_seconds`` and the simulator is cheap to ask;
        a real provider is asked no more often than deployed.
        """
        if len(self.simulated_providers) < len(registry.names()):
            return
        seconds = max(1, int(self.config.poll_seconds))
        self._set_env({c.ENV_POLL_MIN_DELAY_SECONDS: str(seconds)})

    def stop(self) -> None:
        """Stop taking requests, let invocations in flight finish, then stop the services."""
        if self._api:
            self._api.stop()
            self._api = None
        if self._runtime:
            self._runtime.stop()
            self._runtime = None
        if self.simulator:
            self.simulator.stop()
            self.simulator = None
        if self._moto:
            # The emulator's state lives in this process, not in the server: forget it, so
            # that a later stack in the same process starts empty.
            _, port = self._moto.get_host_and_port()
            try:
                httpx.post(f"http://{LOOPBACK}:{port}/moto-api/reset", timeout=10)
            except httpx.HTTPError:
                log.warning("could not reset the AWS emulator's state")
            self._moto.stop()
            self._moto = None
        if self._undo_atomic_writes:
            self._undo_atomic_writes()
            self._undo_atomic_writes = None
        self._restore_env()
        reset_container_caches()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- environment ---
    def _set_env(self, values: dict[str, str | None]) -> None:
        for name, value in values.items():
            if name not in self._saved_env:
                self._saved_env[name] = os.environ.get(name)
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
                self.env[name] = value

    def _default_env(self, name: str, value: str) -> None:
        if not os.environ.get(name):
            self._set_env({name: value})

    def _restore_env(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()

    # --- where things are ---
    def describe(self) -> dict[str, str]:
        bucket = self.env.get(c.ENV_BUCKET_NAME, "")
        return {
            "url": self.url,
            "api_key": self.api_key,
            "tenant_id": self.tenant_id,
            "aws_endpoint": self.aws_endpoint,
            "bucket": bucket,
            "results": f"s3://{bucket}/{c.RESULTS_PREFIX}<job_id>/results.jsonl",
            "providers": ", ".join(
                f"{p}=simulator" if p in self.simulated_providers else f"{p}=real" for p in registry.names()
            ),
            "simulator": self.simulator.base_url if self.simulator else "",
        }


def _warm_clients() -> None:
    """Create the cached boto3 clients on this thread: creating them is not thread-safe."""
    from batchrelay.aws import clients
    from batchrelay.store import table

    for service in ("dynamodb", "s3", "sqs", "sns"):
        clients.client(service)
    table.table()

