"""The drop-in surfaces (OpenAI's and Anthropic's batch APIs) and how requests authenticate.

Two headers, one tenant: batchrelay's own clients send ``x-api-key``, the ``openai`` SDK
``Authorization: Bearer <key>``, and the ``anthropic`` SDK either (``x-api-key`` up to its 0.x
releases, ``Authorization: Bearer`` from 2.x). API Gateway takes the key from a Lambda
authorizer (API key source AUTHORIZER): each route family has the authorizer of the headers its
clients send (``KEY_HEADERS``), which looks the key up and hands it back as the usage
identifier, so usage plans and per-key throttling keep working and the tenant stays the key's
id. The CDK stack (infra/api.py) and local mode (batchrelay_tools.local.api_gateway) both read
these.
"""

from __future__ import annotations

# --- the surfaces: where they live under the API's base URL ---
OPENAI_SURFACE = "openai"
ANTHROPIC_SURFACE = "anthropic"
NATIVE_PREFIX = "/v1"
OPENAI_PREFIX = "/openai/v1"
ANTHROPIC_PREFIX = "/anthropic/v1"
SURFACE_PREFIXES = {OPENAI_SURFACE: OPENAI_PREFIX, ANTHROPIC_SURFACE: ANTHROPIC_PREFIX}

# A batch created through a surface may run on another provider of the same request format
# (registry.ProviderSpec.request_format), chosen by this header or this metadata key.
PROVIDER_HEADER = "x-batchrelay-provider"
PROVIDER_METADATA_KEY = "batchrelay_provider"

# --- authentication: the headers each route family's authorizer reads, in order ---
API_KEY_HEADER = "x-api-key"
BEARER_HEADER = "Authorization"
KEY_HEADERS: dict[str, tuple[str, ...]] = {
    NATIVE_PREFIX: (API_KEY_HEADER,),
    OPENAI_PREFIX: (BEARER_HEADER,),
    ANTHROPIC_PREFIX: (API_KEY_HEADER, BEARER_HEADER),
}
# How long API Gateway keeps an authorizer's answer for one header value (its cache). A family
# of one header has a cached authorizer, whose header API Gateway requires before it runs; a
# family of two has an uncached one (a cached authorizer would require both headers), which runs
# for every request.
AUTHORIZER_CACHE_SECONDS = 300
# How long the authorizer keeps the account's keys before reading them again; an unknown key
# reads them again at most this often (a key created a moment ago works within seconds).
KEY_DIRECTORY_TTL_SECONDS = 60
KEY_DIRECTORY_MISS_REFRESH_SECONDS = 5


def key_headers_for(path: str) -> tuple[str, ...] | None:
    """The headers that may carry the API key on ``path`` (a path under the stage), in the
    order they are read, or None for a path of no route family (API Gateway answers it
    without any function)."""
    for prefix, headers in KEY_HEADERS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return headers
    return None


def surface_of(path: str) -> str | None:
    """The drop-in surface a path belongs to (its errors take that provider's shape)."""
    for surface, prefix in SURFACE_PREFIXES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return surface
    return None


# --- what crosses API Gateway and Lambda ---
# API Gateway takes at most 10 MB per request; a proxied request reaches Lambda as a JSON event,
# and Lambda takes at most 6 MB per synchronous invocation, so bodies that fit are smaller
# (multipart bodies arrive base64-encoded: about 4.5 MB of file per request).
API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024
LAMBDA_MAX_INVOKE_BYTES = 6 * 1024 * 1024
# Request bodies API Gateway passes to the function base64-encoded, byte for byte.
BINARY_MEDIA_TYPES = ("multipart/form-data",)

# --- API Gateway's own answers (gateway responses), one body that every client reads ---
# Gateway responses are one setting for the whole REST API, so their body satisfies the three
# error shapes at once: batchrelay's clients read "message", the openai SDK error.message /
# error.code, the anthropic SDK type == "error" and error.type.
_NO_KEY = "Unauthorized: send a valid API key (x-api-key, or Authorization: Bearer)"
GATEWAY_RESPONSES: dict[str, tuple[int, str, str, str]] = {
    # response type: (status, error type, code, message)
    # No key header (a cached authorizer's identity source is missing) ...
    "UNAUTHORIZED": (401, "authentication_error", "invalid_api_key", _NO_KEY),
    # ... or the authorizer's explicit Deny: no known, enabled key in the request.
    "ACCESS_DENIED": (401, "authentication_error", "invalid_api_key", _NO_KEY),
    "INVALID_API_KEY": (403, "permission_error", "invalid_api_key", "Forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found_error", "route_not_found", "Not Found: no such route"),
    "THROTTLED": (429, "rate_limit_error", "rate_limit_exceeded", "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "rate_limit_error", "quota_exceeded", "Limit Exceeded: the API key's daily quota"),
    "REQUEST_TOO_LARGE": (413, "request_too_large", "request_too_large",
                          "Request Too Long: a request is at most 10 MB, and what reaches the function at most "
                          "6 MB; send big files in parts (/openai/v1/uploads) or through POST /v1/uploads"),
}


def gateway_error_body(response_type: str) -> dict[str, object]:
    """The body API Gateway answers with for one gateway response type."""
    _, error_type, code, message = GATEWAY_RESPONSES[response_type]
    return {
        "message": message,
        "type": "error",
        "error": {"type": error_type, "code": code, "message": message, "param": None},
    }
