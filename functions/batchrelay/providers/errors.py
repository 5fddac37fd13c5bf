"""Turn SDK and transport exceptions into ProviderError, and retry what the SDK cannot.

The SDKs already retry their own calls (``max_retries``, exponential backoff with jitter,
``retry-after`` honoured); whatever still escapes is classified here once: 408/409/429/5xx
and connection problems are retryable, other 4xx are final with the provider's message.
A streamed body that breaks half way is outside the SDK's retry loop: ``resumable_stream``
re-opens it (bounded) and skips the bytes already handed out.

The SDKs' exception classes (openai, anthropic, google-genai) are looked up only in SDKs
already imported (an SDK that was never imported raised nothing): importing this module must
not import every SDK, whose import alone costs tens of MB (an OpenAI collector has no use for
``anthropic``).

Amazon Bedrock is reached with boto3: botocore's ``ClientError`` carries the HTTP status and
the error code (``ThrottlingException`` 429, ``ValidationException`` 400...), classified the
same way; its connection and read-timeout errors are connection problems. A
``ServiceQuotaExceededException`` (400: too many jobs in flight for the model) refuses the
create for lack of room, like a 429: ``code`` says ``quota_exceeded`` (see batch_creation).
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx2

from batchrelay.providers.base import ProviderError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 429})
# ProviderError.code of a create refused because the provider has no room for another batch
# now (Bedrock's concurrent-jobs quota): nothing was made; the chunk is held and tried later.
QUOTA_EXCEEDED = "quota_exceeded"
_BOTOCORE_QUOTA_CODES = frozenset({"ServiceQuotaExceededException"})

# module name -> the names of its (base, HTTP status answer, no answer at all) exception classes
_SDKS = {
    "openai": ("OpenAIError", "APIStatusError", "APIConnectionError"),
    "anthropic": ("AnthropicError", "APIStatusError", "APIConnectionError"),
    # mistralai: every error answer is a MistralError (status_code, the body as text);
    # NoResponseError (no answer) is not one of them.
    "mistralai.client.errors": ("MistralError", "MistralError", "NoResponseError"),
}
_BASE, _STATUS, _NO_ANSWER = range(3)


def _sdk_classes(role: int = _BASE) -> tuple[type[BaseException], ...]:
    """The exception class in ``role`` of each SDK imported so far."""
    return tuple(getattr(sys.modules[module], names[role]) for module, names in _SDKS.items() if module in sys.modules)


def _error_code(body: Any) -> str | None:
    """The provider's error code: OpenAI ``error.code``/``error.type``, Anthropic ``error.type``,
    Mistral ``code``/``type`` (its SDK keeps the body as text)."""
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            code = inner.get("code") or inner.get("type")
            return str(code) if code else None
    return None


def _botocore_classes() -> tuple[type[BaseException], ...]:
    """botocore's ClientError and BotoCoreError, when botocore was imported."""
    module = sys.modules.get("botocore.exceptions")
    return (module.ClientError, module.BotoCoreError) if module else ()


def _from_botocore(exc: BaseException, provider: str) -> ProviderError | None:
    module = sys.modules.get("botocore.exceptions")
    if module is None:
        return None
    if isinstance(exc, module.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = f"{provider}: {code}: {error.get('Message') or exc}"
        if code in _BOTOCORE_QUOTA_CODES:
            return ProviderError(message, retryable=True, status_code=status or 400, code=QUOTA_EXCEEDED)
        retryable = status in RETRYABLE_STATUS or status >= 500 or code == "ThrottlingException"
        return ProviderError(message, retryable=retryable, status_code=status or None, code=code or None)
    if isinstance(exc, module.BotoCoreError):
        # Endpoint unreachable, connection closed, read timeout: nothing to tell whether the
        # call was applied (a create after a timeout is ambiguous: recovery looks first).
        return ProviderError(f"{provider}: connection problem: {exc}", retryable=True, code="connection_error")
    return None


def _google_classes() -> tuple[type[BaseException], ...]:
    """google-genai's APIError, when google-genai was imported."""
    errors = sys.modules.get("google.genai.errors")
    return (errors.APIError,) if errors is not None else ()


def _google_api_error(exc: BaseException) -> bool:
    """google-genai's APIError: every HTTP error answer (``code`` is the HTTP status, ``status``
    Google's canonical name, e.g. RESOURCE_EXHAUSTED). Transport errors reach us as httpx2's."""
    return isinstance(exc, _google_classes())


def to_provider_error(exc: BaseException, provider: str) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    converted = _from_botocore(exc, provider)
    if converted is not None:
        return converted
    if _google_api_error(exc):
        status = int(getattr(exc, "code", 0) or 0)
        return ProviderError(f"{provider}: {getattr(exc, 'message', None) or exc}",
                             retryable=status in RETRYABLE_STATUS or status >= 500, status_code=status or None,
                             code=str(getattr(exc, "status", "") or "") or None)
    if isinstance(exc, _sdk_classes(_STATUS)):
        status = getattr(exc, "status_code", 0)
        retryable = status in RETRYABLE_STATUS or status >= 500
        return ProviderError(f"{provider}: {getattr(exc, 'message', exc)}", retryable=retryable, status_code=status,
                             code=_error_code(getattr(exc, "body", None)))
    if isinstance(exc, (httpx2.TransportError, *_sdk_classes(_NO_ANSWER))):
        return ProviderError(f"{provider}: connection problem: {exc}", retryable=True, code="connection_error")
    return ProviderError(f"{provider}: {exc}", retryable=False)


@contextmanager
def translate_errors(provider: str) -> Iterator[None]:
    """Re-raise SDK exceptions raised inside the block as ProviderError."""
    try:
        yield
    except ProviderError:
        raise
    except Exception as exc:
        if not isinstance(exc, (httpx2.HTTPError, *_sdk_classes(_BASE), *_sdk_classes(_NO_ANSWER),
                                *_botocore_classes(), *_google_classes())):
            raise
        raise to_provider_error(exc, provider) from exc


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 8.0) -> float:
    """Exponential backoff with full jitter (attempt 1, 2, ...)."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def resumable_stream(
    open_stream: Callable[[], AbstractContextManager[Any]],
    *,
    provider: str,
    what: str,
    attempts: int = 4,
    chunk_size: int = 64 * 1024,
    base_delay: float = 0.2,
) -> Iterator[bytes]:
    """Yield a download's bytes, restarting it when the connection breaks mid-body.

    ``open_stream`` returns the SDK's streaming-response context manager (it has
    ``iter_bytes``). A restart re-downloads from the start and discards the bytes already
    yielded: plain and correct for immutable result files, and it works whether or not
    the server honours Range requests. At most ``attempts`` tries, then a retryable
    ProviderError (the caller's queue retries later).
    """
    delivered = 0
    for attempt in range(1, attempts + 1):
        position = 0
        try:
            with translate_errors(provider), open_stream() as response:
                for block in response.iter_bytes(chunk_size):
                    if position + len(block) <= delivered:
                        position += len(block)
                        continue
                    fresh = block[delivered - position :] if position < delivered else block
                    position += len(block)
                    delivered += len(fresh)
                    yield fresh
            return
        except ProviderError as exc:
            if not exc.retryable or attempt == attempts:
                raise
            log.warning("%s download of %s broke after %d bytes (%s); retry %d/%d",
                        provider, what, delivered, exc.message, attempt, attempts - 1)
            time.sleep(backoff_delay(attempt, base=base_delay))
    raise AssertionError("unreachable")
