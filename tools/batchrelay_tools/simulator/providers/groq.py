"""Groq's batch API on the simulator: OpenAI's Files + Batches at ``/openai/v1``.

Served under ``/groq/openai/v1`` (local mode points ``GROQ_BASE_URL`` there, as at
``https://api.groq.com/openai/v1``) for the openai SDK. What Groq does differently from
OpenAI: ``completion_window`` from 24h to 7d, chat completions only, and its list of batches
is one answer without paging (``{"object": "list", "data"}``, as groq-python's
``BatchListResponse`` has it), here in creation order. Errors in OpenAI's shape, bearer key.
"""

from __future__ import annotations

from typing import Any

from batchrelay_tools.simulator import plugins
from batchrelay_tools.simulator.providers.openai_shaped import OpenAIShapedAccount, bearer_key, openai_routes
from batchrelay_tools.simulator.state import OpenAIShape, Simulator

PREFIX = "/groq"
GROQ_SHAPE = OpenAIShape(
    provider="groq",
    endpoints={"/v1/chat/completions": "/v1/chat/completions"},
    shortest_window="24h",
    longest_window="7d",
)


def _account(main: Simulator) -> OpenAIShapedAccount:
    return OpenAIShapedAccount(main, GROQ_SHAPE)


def _same(request: Any, account: OpenAIShapedAccount, groups: dict[str, str]) -> OpenAIShapedAccount:
    return account


PLUGIN = plugins.register(plugins.SimulatedProvider(
    name="groq",
    prefix=PREFIX,
    routes=openai_routes("/openai/v1", _same, prefix=PREFIX, paged_list=False),
    make_state=_account,
    authorized=bearer_key,
))
