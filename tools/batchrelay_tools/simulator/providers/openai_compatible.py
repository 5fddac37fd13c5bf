"""OpenAI-compatible batch servers on the simulator: one account per configured server.

Served under ``/compat/<name>/v1`` (the registry entry's ``simulator_path``; local mode points
``<NAME>_BASE_URL`` there). Each registered OpenAI-compatible provider (registry:
``OPENAI_COMPATIBLE_PROVIDERS``) gets its own account on first use, shaped by its entry:
endpoints, requests per batch, completion windows, whether it keeps batch metadata, whether it
expires batches. A name that is not registered answers 404.
"""

from __future__ import annotations

from typing import Any

from batchrelay import registry
from batchrelay_tools.simulator import plugins
from batchrelay_tools.simulator.ledger import LedgerBatch
from batchrelay_tools.simulator.providers.openai_shaped import OpenAIShapedAccount, bearer_key, openai_routes
from batchrelay_tools.simulator.state import ApiError, OpenAIShape, Simulator

PREFIX = "/compat"


def shape_of(spec: registry.ProviderSpec) -> OpenAIShape:
    windows = spec.completion_windows or registry.CompletionWindows()
    return OpenAIShape(
        provider=spec.name,
        endpoints={endpoint: endpoint for endpoint in spec.endpoints},
        shortest_window=windows.shortest,
        longest_window=windows.longest,
        max_requests=spec.limits.max_requests,
        keeps_metadata=spec.capabilities.batch_metadata,
        expires=spec.max_batch_age_seconds is None,
    )


class CompatibleServers:
    """The accounts of the configured servers, by name."""

    def __init__(self, main: Simulator):
        self.main = main
        self.accounts: dict[str, OpenAIShapedAccount] = {}

    def account(self, name: str) -> OpenAIShapedAccount:
        with self.main.lock:
            account = self.accounts.get(name)
            if account is None:
                try:
                    spec = registry.spec(name)
                except registry.UnknownProvider:
                    raise ApiError(404, f"No OpenAI-compatible server {name!r} is configured.") from None
                if spec.adapter != registry.OPENAI_SHAPED_ADAPTER:
                    raise ApiError(404, f"{name!r} is not an OpenAI-compatible server.")
                account = self.accounts[name] = OpenAIShapedAccount(self.main, shape_of(spec))
            return account

    def ledger_entries(self) -> list[LedgerBatch]:
        return [entry for account in list(self.accounts.values()) for entry in account.ledger_entries()]


def _server(request: Any, state: CompatibleServers, groups: dict[str, str]) -> OpenAIShapedAccount:
    return state.account(groups["server"])


PLUGIN = plugins.register(plugins.SimulatedProvider(
    name="openai_compatible",
    prefix=PREFIX,
    routes=openai_routes("/{server}/v1", _server, prefix=PREFIX),
    make_state=CompatibleServers,
    authorized=bearer_key,
))
