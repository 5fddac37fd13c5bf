"""Logger, Tracer and Metrics, created once and imported by every handler."""

import os
from collections.abc import Callable
from typing import Any

from aws_xray_sdk.core.sampling.connector import ServiceConnector

from batchrelay.constants import ENV_FUNCTION, FUNCTION_API, FUNCTION_AUTHORIZER, METRICS_NAMESPACE, SERVICE_NAME


class _ClientOnFirstUse:
    """Stands for the X-Ray SDK's sampling client until something calls it."""

    def __init__(self, create: Callable[[], Any]) -> None:
        self._create = create
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._create()
        return getattr(self._client, name)


def _defer_the_sampling_client() -> None:
    """The X-Ray recorder, built when ``aws_xray_sdk.core`` is imported, makes a botocore
    client for centralized sampling rules at once: a second botocore session loading the
    X-Ray service model and the endpoint data, about 200 ms of every function's init. In
    Lambda the sampling decision comes with the invocation's trace header and that client
    is never called, so it is made on first use instead (never, in Lambda)."""
    create = ServiceConnector._create_xray_client
    if getattr(create, "deferred", False):
        return

    def deferred(self: ServiceConnector, ip: str = "127.0.0.1", port: str = "2000") -> Any:
        return _ClientOnFirstUse(lambda: create(self, ip, port))

    deferred.deferred = True  # type: ignore[attr-defined]
    ServiceConnector._create_xray_client = deferred  # type: ignore[method-assign]


_defer_the_sampling_client()

from aws_lambda_powertools import Logger, Metrics, Tracer  # noqa: E402

# Left to itself the X-Ray SDK patches (and so imports) every library it supports that is
# installed: httpx with pygments and click, requests, pynamodb... about half a second of
# the API function's cold start. Each function traces what it calls: AWS (botocore) and,
# where provider SDKs and webhook deliveries run, httpx.
TRACED_MODULES = {FUNCTION_API: ("botocore",), FUNCTION_AUTHORIZER: ("botocore",)}
DEFAULT_TRACED_MODULES = ("botocore", "httpx")

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(
    service=SERVICE_NAME,
    patch_modules=TRACED_MODULES.get(os.environ.get(ENV_FUNCTION, ""), DEFAULT_TRACED_MODULES),
)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
