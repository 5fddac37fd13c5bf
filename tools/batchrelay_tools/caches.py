"""Everything cached per container (settings, AWS clients, the table, provider adapters,
the authorizer's API keys).

Lambda builds these once per container from its environment; local mode and the tests
change the environment and call ``reset_container_caches`` so the next use rebuilds them.
"""

from __future__ import annotations


def reset_container_caches() -> None:
    from batchrelay.aws.api_keys import reset_key_directory
    from batchrelay.aws.clients import reset_clients
    from batchrelay.providers.adapters import reset_providers
    from batchrelay.settings import get_settings
    from batchrelay.store import table

    get_settings.cache_clear()
    reset_clients()
    table.reset()
    reset_providers()
    reset_key_directory()
