"""Azure OpenAI's batch API on the simulator: OpenAI's Files + Batches in Azure's places.

Served under ``/azure`` (local mode points ``AZURE_OPENAI_BASE_URL`` there, as at a resource
endpoint ``https://<resource>.openai.azure.com``), on each path the openai SDK uses:
``/openai/files``, ``/openai/batches`` with the ``api-version`` query (``AzureOpenAI`` on the
resource endpoint), ``/openai/deployments/{deployment}/...`` (``AzureOpenAI`` on a deployment
URL) and ``/openai/v1/...`` (the ``OpenAI`` client on the resource's v1 base URL, no
api-version). One account behind all of them. What Azure does differently from OpenAI:
request lines and creates name ``/chat/completions`` (``/v1/...`` accepted too), 100,000
requests per file, the ``api-key`` header (or a bearer token), Azure's error shape, and no
expiry: a batch that another provider would expire stays in progress until cancelled
(the lifecycle's maximum batch age does that). Quota refusals are OpenAI's
``token_limit_exceeded`` batch failure, as Azure reports them.
"""

from __future__ import annotations

import re
from typing import Any

from batchrelay_tools.simulator import plugins
from batchrelay_tools.simulator.providers.openai_shaped import OpenAIShapedAccount, bearer_key, openai_routes
from batchrelay_tools.simulator.state import ApiError, OpenAIShape, Simulator

PREFIX = "/azure"
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
AZURE_SHAPE = OpenAIShape(
    provider="azure_openai",
    endpoints={
        "/chat/completions": "/v1/chat/completions", "/embeddings": "/v1/embeddings", "/responses": "/v1/responses",
        "/v1/chat/completions": "/v1/chat/completions", "/v1/embeddings": "/v1/embeddings",
        "/v1/responses": "/v1/responses",
    },
    max_requests=100_000,
    expires=False,
)


def _account(main: Simulator) -> OpenAIShapedAccount:
    return OpenAIShapedAccount(main, AZURE_SHAPE)


def _versioned(request: Any, account: OpenAIShapedAccount, groups: dict[str, str]) -> OpenAIShapedAccount:
    version = request.query.get("api-version")
    if not version:
        raise ApiError(404, "Resource not found: the api-version query parameter is required.", code="404")
    if not API_VERSION.match(version):
        raise ApiError(400, f"Unsupported api-version {version!r}.", code="BadRequest")
    return account


def _v1(request: Any, account: OpenAIShapedAccount, groups: dict[str, str]) -> OpenAIShapedAccount:
    return account


def _error_body(status: int, message: str, code: str | None) -> dict[str, Any]:
    return {"error": {"code": code or str(status), "message": message}}


def _authorized(headers: dict[str, str]) -> bool:
    return bool(headers.get("api-key")) or bearer_key(headers)


PLUGIN = plugins.register(plugins.SimulatedProvider(
    name="azure_openai",
    prefix=PREFIX,
    routes=(
        *openai_routes("/openai/v1", _v1, prefix=PREFIX),
        *openai_routes("/openai/deployments/{deployment}", _versioned, prefix=PREFIX),
        *openai_routes("/openai", _versioned, prefix=PREFIX),
    ),
    make_state=_account,
    error_body=_error_body,
    authorized=_authorized,
))
