"""Settings: validated on first use, failing with the names of what is missing or wrong."""

from __future__ import annotations

import pytest

from batchrelay import constants as c
from batchrelay.settings import SettingsError, get_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in (c.ENV_FUNCTION, *{n for names in c.FUNCTION_ENVIRONMENT.values() for n in names},
                 "OPENAI_API_KEY", "OPENAI_SECRET_ARN", "ANTHROPIC_API_KEY", "ANTHROPIC_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_function_missing_its_variables_fails_naming_them(monkeypatch):
    # Given the submitter with only its table
    monkeypatch.setenv(c.ENV_FUNCTION, c.FUNCTION_SUBMITTER)
    monkeypatch.setenv(c.ENV_TABLE_NAME, "t")

    # When settings are first used
    with pytest.raises(SettingsError) as failure:
        get_settings()

    # Then the message names every missing variable, provider keys included
    message = str(failure.value)
    for name in (c.ENV_BUCKET_NAME, c.ENV_JOBS_QUEUE_URL, c.ENV_COLLECT_QUEUE_URL, "OPENAI_SECRET_ARN",
                 "ANTHROPIC_SECRET_ARN"):
        assert name in message
    assert c.ENV_TABLE_NAME not in message.split(":", 1)[1]


def test_a_function_with_its_variables_loads(monkeypatch):
    monkeypatch.setenv(c.ENV_FUNCTION, c.FUNCTION_API)
    for name in c.FUNCTION_ENVIRONMENT[c.FUNCTION_API]:
        monkeypatch.setenv(name, f"value-of-{name}")
    settings = get_settings()
    assert settings.table_name == f"value-of-{c.ENV_TABLE_NAME}"


def test_a_value_that_does_not_parse_is_named(monkeypatch):
    monkeypatch.setenv(c.ENV_DEFAULT_CHUNK_SIZE, "many")
    with pytest.raises(SettingsError, match=c.ENV_DEFAULT_CHUNK_SIZE):
        get_settings()


def test_provider_limits_come_from_the_registry_unless_overridden(monkeypatch):
    monkeypatch.setenv("OPENAI_MAX_REQUESTS_PER_BATCH", "1234")
    settings = get_settings()
    assert settings.provider_limits("openai").max_requests == 1234
    assert settings.provider_limits("anthropic").max_requests == 100_000


def test_empty_variables_count_as_unset(monkeypatch):
    monkeypatch.setenv(c.ENV_WEBHOOK_ALLOW_HTTP, "")
    monkeypatch.setenv(c.ENV_PRICES_FILE, "")
    settings = get_settings()
    assert settings.webhook_allow_http is False and settings.prices_file is None
