"""What a job cost: token usage per model times the price table in ``prices.json``.

The table lists synchronous list prices (USD per million tokens); batch jobs pay
``batch_discount`` of that. Operators edit the file or set PRICES_FILE to their own.
Models missing from the table cost nothing here and are reported as unpriced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from batchrelay.models.api import CostOut
from batchrelay.models.job import Job
from batchrelay.settings import get_settings

_DEFAULT_PRICES = Path(__file__).with_name("prices.json")
_MILLION = Decimal(1_000_000)
_CENT_FRACTION = Decimal("0.000001")


@dataclass(frozen=True)
class ModelPrice:
    input_per_million: Decimal
    output_per_million: Decimal


@dataclass(frozen=True)
class PriceTable:
    batch_discount: Decimal
    models: dict[str, ModelPrice]

    def price_for(self, model: str | None) -> ModelPrice | None:
        """The longest table entry that prefixes the model name (dated snapshots share a price)."""
        if not model:
            return None
        best: str | None = None
        for name in self.models:
            if model.startswith(name) and (best is None or len(name) > len(best)):
                best = name
        return self.models[best] if best else None


@dataclass
class Cost:
    batch_usd: Decimal = Decimal(0)
    sync_usd: Decimal = Decimal(0)
    unpriced_models: list[str] = field(default_factory=list)

    def as_strings(self) -> tuple[str, str]:
        return _usd(self.batch_usd), _usd(self.sync_usd)


def _usd(value: Decimal) -> str:
    return str(value.quantize(_CENT_FRACTION, rounding=ROUND_HALF_UP))


def parse_price_table(data: dict[str, Any]) -> PriceTable:
    models = {
        name: ModelPrice(Decimal(str(p.get("input", 0))), Decimal(str(p.get("output", 0))))
        for name, p in data.get("models", {}).items()
    }
    return PriceTable(batch_discount=Decimal(str(data.get("batch_discount", "0.5"))), models=models)


@lru_cache(maxsize=4)
def _load(path: str) -> PriceTable:
    return parse_price_table(orjson.loads(Path(path).read_bytes()))


def price_table() -> PriceTable:
    return _load(get_settings().prices_file or str(_DEFAULT_PRICES))


def cost_of(usage_by_model: dict[str, dict[str, int]], table: PriceTable | None = None) -> Cost:
    """Cost of usage given as {model: {"input_tokens", "output_tokens"}}."""
    table = table or price_table()
    cost = Cost()
    for model, usage in sorted(usage_by_model.items()):
        price = table.price_for(model)
        if price is None:
            if usage.get("input_tokens") or usage.get("output_tokens"):
                cost.unpriced_models.append(model)
            continue
        sync = (
            Decimal(usage.get("input_tokens", 0)) * price.input_per_million
            + Decimal(usage.get("output_tokens", 0)) * price.output_per_million
        ) / _MILLION
        cost.sync_usd += sync
        cost.batch_usd += sync * table.batch_discount
    return cost


def job_cost(job: Job) -> CostOut | None:
    """What a final job cost in batch, what it would have cost synchronously, and the saving."""
    if job.cost_usd is None or job.sync_cost_usd is None:
        return None
    saved = Decimal(job.sync_cost_usd) - Decimal(job.cost_usd)
    return CostOut(batch=job.cost_usd, synchronous=job.sync_cost_usd, saved=str(saved))
