"""A job's completion window: only where its provider offers a choice, and within it."""

from __future__ import annotations

import pytest

from batchrelay.errors import ValidationFailed
from batchrelay.validation.request_rules import check_completion_window


def test_groq_takes_any_window_from_24h_to_7d():
    assert check_completion_window("groq", "48h") == "48h"
    assert check_completion_window("groq", "7d") == "7d"
    assert check_completion_window("groq", None) is None


@pytest.mark.parametrize("window", ["12h", "8d", "2w", "soon"])
def test_groq_refuses_a_window_it_does_not_offer_naming_the_range(window):
    with pytest.raises(ValidationFailed, match="24h to 7d") as refused:
        check_completion_window("groq", window)
    assert refused.value.field == "completion_window"


@pytest.mark.parametrize("provider", ["openai", "azure_openai", "anthropic"])
def test_providers_with_one_window_refuse_the_field(provider):
    with pytest.raises(ValidationFailed, match="one fixed window"):
        check_completion_window(provider, "24h")
