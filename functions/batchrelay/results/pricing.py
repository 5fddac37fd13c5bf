"""What a job cost: token usage per model times its provider's rows in ``prices.json``.

Each provider has its own section: synchronous list prices (USD per million tokens) and
its own batch discount, a model's own ``batch_discount`` where it differs (Groq has published
25% and 50% at different times), or explicit batch prices per model where a provider
publishes them (no global 50%). OpenAI-compatible servers configured at deploy time may
bring their section in their configuration (``registry.ProviderSpec.prices``); the file's
own section wins. Operators edit the file or set PRICES_FILE to their own; a file in the
first version's format (one ``batch_discount`` and ``models`` for all) still works. Models
missing from the table cost nothing here and are reported as unpriced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from batchrelay import registry
from batchrelay.models.api import CostOut
from batchrelay.models.job import Job
from batchrelay.settings import get_settings

_DEFAULT_PRICES = Path(__file__).with_name("prices.json")
_MILLION = Decimal(1_000_000)
_CENT_FRACTION = Decimal("0.000001")
_ANY_PROVIDER = "*"


@dataclass(frozen=True)
class ModelPrice:
    input_per_million: Decimal
    output_per_million: Decimal
    batch_input_per_million: Decimal
    batch_output_per_million: Decimal

    @property
    def discount(self) -> Decimal | None:
        """The batch price's share of the list price (None: no list price to compare)."""
        if self.input_per_million:
            return self.batch_input_per_million / self.input_per_million
        if self.output_per_million:
            return self.batch_output_per_million / self.output_per_million
        return None


@dataclass(frozen=True)
class ProviderPrices:
    batch_discount: Decimal
    models: dict[str, ModelPrice]
    # Leading parts of a model name to drop when no entry matches it as it is (Bedrock's
    # cross-region inference profiles: "us.anthropic.claude..." is priced as its model).
    strip_prefixes: tuple[str, ...] = ()

    @property
    def discounts(self) -> list[Decimal]:
        """Every batch/list ratio of its models, sorted (one value when the section's discount holds)."""
        ratios = {price.discount for price in self.models.values() if price.discount is not None}
        return sorted(ratios) or [self.batch_discount]

    def price_for(self, model: str | None) -> ModelPrice | None:
        """The longest table entry that prefixes the model name (dated snapshots share a price)."""
        if not model:
            return None
        best: str | None = None
        for name in self.models:
            if model.startswith(name) and (best is None or len(name) > len(best)):
                best = name
        if best is None:
            for prefix in self.strip_prefixes:
                if model.startswith(prefix):
                    return self.price_for(model[len(prefix):])
        return self.models[best] if best else None


@dataclass(frozen=True)
class PriceTable:
    providers: dict[str, ProviderPrices]

    def for_provider(self, provider: str) -> ProviderPrices | None:
        return self.providers.get(provider) or self.providers.get(_ANY_PROVIDER)


@dataclass
class Cost:
    batch_usd: Decimal = Decimal(0)       # what was paid: batch prices, on-demand requests at sync prices
    sync_usd: Decimal = Decimal(0)        # the same work through the synchronous API
    on_demand_usd: Decimal = Decimal(0)   # of batch_usd: requests run on demand (synchronous price)
    unpriced_models: list[str] = field(default_factory=list)

    def as_strings(self) -> tuple[str, str]:
        return _usd(self.batch_usd), _usd(self.sync_usd)

    @property
    def on_demand_string(self) -> str | None:
        """None when no request ran on demand."""
        return _usd(self.on_demand_usd) if self.on_demand_usd else None


def _usd(value: Decimal) -> str:
    return str(value.quantize(_CENT_FRACTION, rounding=ROUND_HALF_UP))


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _provider_prices(section: dict[str, Any]) -> ProviderPrices:
    discount = _decimal(section.get("batch_discount", "0.5"))
    models = {}
    for name, row in section.get("models", {}).items():
        sync_in, sync_out = _decimal(row.get("input", 0)), _decimal(row.get("output", 0))
        share = _decimal(row["batch_discount"]) if "batch_discount" in row else discount
        models[name] = ModelPrice(
            input_per_million=sync_in,
            output_per_million=sync_out,
            batch_input_per_million=_decimal(row["batch_input"]) if "batch_input" in row else sync_in * share,
            batch_output_per_million=_decimal(row["batch_output"]) if "batch_output" in row else sync_out * share,
        )
    return ProviderPrices(batch_discount=discount, models=models,
                          strip_prefixes=tuple(section.get("strip_prefixes", ())))


def parse_price_table(data: dict[str, Any]) -> PriceTable:
    if "providers" in data:
        return PriceTable({name: _provider_prices(section) for name, section in data["providers"].items()})
    return PriceTable({_ANY_PROVIDER: _provider_prices(data)})  # the first version's format


@lru_cache(maxsize=4)
def _load(path: str) -> PriceTable:
    return parse_price_table(orjson.loads(Path(path).read_bytes()))


def price_table() -> PriceTable:
    table = _load(get_settings().prices_file or str(_DEFAULT_PRICES))
    configured = {
        spec.name: _provider_prices(dict(spec.prices))
        for spec in registry.specs()
        if spec.prices and spec.name not in table.providers
    }
    return PriceTable({**table.providers, **configured}) if configured else table


def cost_of(
    provider: str,
    usage_by_model: dict[str, dict[str, int]],
    table: PriceTable | None = None,
    *,
    on_demand_usage_by_model: dict[str, dict[str, int]] | None = None,
) -> Cost:
    """Cost of usage given as {model: {"input_tokens", "output_tokens"}} at ``provider``'s prices;
    ``on_demand_usage_by_model`` (requests answered by synchronous calls) at the synchronous price."""
    prices = (table or price_table()).for_provider(provider)
    cost = Cost()
    for model, usage, on_demand in [
        *((m, u, False) for m, u in sorted(usage_by_model.items())),
        *((m, u, True) for m, u in sorted((on_demand_usage_by_model or {}).items())),
    ]:
        price = prices.price_for(model) if prices else None
        if price is None:
            if (usage.get("input_tokens") or usage.get("output_tokens")) and model not in cost.unpriced_models:
                cost.unpriced_models.append(model)
            continue
        input_tokens, output_tokens = Decimal(usage.get("input_tokens", 0)), Decimal(usage.get("output_tokens", 0))
        sync = (input_tokens * price.input_per_million + output_tokens * price.output_per_million) / _MILLION
        cost.sync_usd += sync
        if on_demand:
            cost.batch_usd += sync
            cost.on_demand_usd += sync
            continue
        cost.batch_usd += (
            input_tokens * price.batch_input_per_million + output_tokens * price.batch_output_per_million
        ) / _MILLION
    return cost


def job_cost(job: Job) -> CostOut | None:
    """What a final job cost in batch, what it would have cost synchronously, and the saving."""
    if job.cost_usd is None or job.sync_cost_usd is None:
        return None
    saved = Decimal(job.sync_cost_usd) - Decimal(job.cost_usd)
    return CostOut(batch=job.cost_usd, synchronous=job.sync_cost_usd, saved=str(saved),
                   on_demand=job.on_demand_cost_usd)
