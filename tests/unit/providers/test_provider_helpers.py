"""Custom id mapping, metadata limits, error classification, credentials, adapters."""

from __future__ import annotations

import re

import anthropic
import httpx2
import openai
import pytest

from batchrelay.providers import adapters, credentials
from batchrelay.providers.anthropic_provider import AnthropicProvider
from batchrelay.providers.base import ProviderError
from batchrelay.providers.custom_ids import anthropic_custom_id, chunk_id_tag, tag_of
from batchrelay.providers.errors import resumable_stream, to_provider_error
from batchrelay.providers.openai_provider import OpenAIProvider, normalize_metadata
from batchrelay.settings import get_settings

# ---------------------------------------------------------------- custom ids
ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TAG = chunk_id_tag("job_1", "c00001")


def test_chunk_tags_are_short_safe_and_differ_between_chunks():
    assert len(TAG) == 10 and ANTHROPIC_ID.match(TAG)
    assert TAG == chunk_id_tag("job_1", "c00001")
    assert len({chunk_id_tag(job, chunk) for job in ("job_1", "job_2") for chunk in ("c00001", "c00002")}) == 4


@pytest.mark.parametrize("custom_id", ["a", "A-b_9", "x" * 53])
def test_safe_ids_are_kept_after_the_tag(custom_id):
    mapped = anthropic_custom_id(custom_id, TAG)
    assert mapped == f"{TAG}_{custom_id}" and ANTHROPIC_ID.match(mapped) and tag_of(mapped) == TAG


@pytest.mark.parametrize("custom_id", ["", "has space", "x" * 54, "é", "a/b", "h" + "a" * 52])
def test_unsafe_ids_are_hashed_deterministically(custom_id):
    mapped = anthropic_custom_id(custom_id, TAG)
    assert ANTHROPIC_ID.match(mapped) and mapped.startswith(f"{TAG}_h") and len(mapped) == 64
    assert mapped == anthropic_custom_id(custom_id, TAG) and mapped != f"{TAG}_{custom_id}"
    assert tag_of(mapped) == TAG


def test_provider_custom_ids_and_request_lines():
    assert OpenAIProvider(api_key="k").provider_custom_id("any thing/é", TAG) == f"{TAG}_any thing/é"
    assert tag_of("no-tag") is None
    assert OpenAIProvider(api_key="k").request_line("a", {"model": "m"}, "/v1/embeddings") == {
        "custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"model": "m"}}
    assert AnthropicProvider(api_key="k").request_line("a", {"model": "m"}, "/v1/messages") == {
        "custom_id": "a", "params": {"model": "m"}}


# ---------------------------------------------------------------- metadata
def test_metadata_is_fitted_to_openai_limits():
    metadata = {f"key{i:02d}": "v" * 600 for i in range(20)}
    fitted = normalize_metadata(metadata)
    assert list(fitted) == list(metadata)[:16]
    assert all(len(v) == 512 for v in fitted.values())
    with pytest.raises(ValueError):
        normalize_metadata({"k" * 65: "v"})
    small = {"job_id": "j", "chunk_id": "c"}
    assert normalize_metadata(small) == small


# ---------------------------------------------------------------- errors
def _response(status: int) -> httpx2.Response:
    return httpx2.Response(status, request=httpx2.Request("POST", "http://127.0.0.1/v1/batches"))


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (401, False), (404, False), (408, True),
                                                   (409, True), (429, True), (500, True), (529, True)])
def test_status_errors(status, retryable):
    for exc in (
        openai.APIStatusError("boom", response=_response(status), body={"error": {"code": "c1", "message": "m"}}),
        anthropic.APIStatusError("boom", response=_response(status), body={"type": "error",
                                                                          "error": {"type": "c1", "message": "m"}}),
    ):
        error = to_provider_error(exc, "p")
        assert (error.retryable, error.status_code, error.code) == (retryable, status, "c1")


def test_connection_errors_are_retryable():
    request = httpx2.Request("GET", "http://127.0.0.1/")
    for exc in (openai.APIConnectionError(request=request), anthropic.APITimeoutError(request=request),
                httpx2.RemoteProtocolError("peer closed")):
        assert to_provider_error(exc, "p").retryable


def test_other_errors_are_final():
    assert not to_provider_error(anthropic.AnthropicError("no results_url"), "anthropic").retryable


class _FakeStream:
    def __init__(self, data: bytes, cut_at: int | None):
        self.data, self.cut_at = data, cut_at

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def iter_bytes(self, chunk_size):
        end = len(self.data) if self.cut_at is None else self.cut_at
        for i in range(0, end, 3):
            yield self.data[i : min(i + 3, end)]
        if self.cut_at is not None:
            raise httpx2.RemoteProtocolError("peer closed connection without sending complete message body")


def test_resumable_stream_skips_bytes_already_delivered():
    data = b"0123456789abcdefghij"
    streams = iter([_FakeStream(data, 7), _FakeStream(data, 14), _FakeStream(data, None)])
    out = b"".join(resumable_stream(lambda: next(streams), provider="p", what="f", base_delay=0))
    assert out == data


def test_resumable_stream_is_bounded():
    with pytest.raises(ProviderError) as failure:
        b"".join(resumable_stream(lambda: _FakeStream(b"abcdef", 2), provider="p", what="f", attempts=2,
                                  base_delay=0))
    assert failure.value.retryable


# ---------------------------------------------------------------- credentials and adapters
@pytest.fixture(autouse=True)
def fresh_settings():
    """Settings are read once per container; each test here changes the environment first."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _setenv(monkeypatch, **variables: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def _delenv(monkeypatch, *names: str) -> None:
    for name in names:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()


def test_api_key_from_environment(monkeypatch):
    _setenv(monkeypatch, OPENAI_API_KEY="sk-env")
    assert credentials.api_key("openai") == "sk-env"


def test_api_key_from_secrets_manager(monkeypatch):
    from aws_lambda_powertools.utilities import parameters

    _delenv(monkeypatch, "ANTHROPIC_API_KEY")
    _setenv(monkeypatch, ANTHROPIC_SECRET_ARN="arn:aws:secretsmanager:eu-west-1:1:secret:anthropic")
    calls = []

    def fake_get_secret(name, max_age=None, **kwargs):
        calls.append((name, max_age))
        return '{"api_key": "sk-ant-secret"}'

    monkeypatch.setattr(parameters, "get_secret", fake_get_secret)
    assert credentials.api_key("anthropic") == "sk-ant-secret"
    assert calls == [("arn:aws:secretsmanager:eu-west-1:1:secret:anthropic", 300)]
    monkeypatch.setattr(parameters, "get_secret", lambda name, max_age=None, **kw: "sk-plain\n")
    assert credentials.api_key("anthropic") == "sk-plain"


def test_missing_credentials(monkeypatch):
    _delenv(monkeypatch, "OPENAI_API_KEY", "OPENAI_SECRET_ARN")
    with pytest.raises(ProviderError) as failure:
        credentials.api_key("openai")
    assert not failure.value.retryable


def test_adapters_are_cached_per_name(monkeypatch):
    _setenv(monkeypatch, OPENAI_API_KEY="sk-env", ANTHROPIC_API_KEY="sk-ant-env")
    adapters.reset_providers()
    try:
        first = adapters.get_provider("openai")
        assert adapters.get_provider("openai") is first and isinstance(first, OpenAIProvider)
        assert isinstance(adapters.get_provider("anthropic"), AnthropicProvider)
        adapters.reset_providers()
        assert adapters.get_provider("openai") is not first
        with pytest.raises(ValueError):
            adapters.get_provider("nope")
    finally:
        adapters.reset_providers()


def test_base_url_from_environment(monkeypatch):
    _setenv(monkeypatch, OPENAI_BASE_URL="http://127.0.0.1:9/v1", ANTHROPIC_BASE_URL="http://127.0.0.1:9")
    assert str(OpenAIProvider(api_key="k").client.base_url).startswith("http://127.0.0.1:9/v1")
    assert str(AnthropicProvider(api_key="k").client.base_url).startswith("http://127.0.0.1:9")
