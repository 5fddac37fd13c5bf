"""Cost from usage: each provider's own rows and batch discount."""

from decimal import Decimal

from batchrelay import registry
from batchrelay.results.pricing import cost_of, parse_price_table, price_table

TABLE = parse_price_table(
    {
        "providers": {
            "openai": {
                "batch_discount": 0.5,
                "models": {"gpt-4o": {"input": 2.5, "output": 10}, "gpt-4o-mini": {"input": 0.15, "output": 0.6}},
            },
            "cheapbatch": {
                "batch_discount": 0.75,
                "models": {
                    "m": {"input": 1.0, "output": 2.0},
                    "special": {"input": 1.0, "output": 1.0, "batch_input": 0.1, "batch_output": 0.2},
                },
            },
        }
    }
)


def test_longest_prefix_wins_for_dated_model_names():
    openai = TABLE.for_provider("openai")
    assert openai.price_for("gpt-4o-mini-2024-07-18").input_per_million == Decimal("0.15")
    assert openai.price_for("gpt-4o-2024-08-06").input_per_million == Decimal("2.5")
    assert openai.price_for("claude-x") is None


def test_batch_cost_is_the_providers_own_discount_of_the_sync_cost():
    cost = cost_of("openai", {"gpt-4o-mini-2024-07-18": {"input_tokens": 1_000_000, "output_tokens": 2_000_000}},
                   TABLE)
    assert cost.sync_usd == Decimal("1.35")
    assert cost.batch_usd == Decimal("0.675")
    assert cost.as_strings() == ("0.675000", "1.350000")

    other = cost_of("cheapbatch", {"m": {"input_tokens": 1_000_000, "output_tokens": 0}}, TABLE)
    assert (other.sync_usd, other.batch_usd) == (Decimal("1.0"), Decimal("0.75"))


def test_a_model_may_publish_its_own_batch_price():
    cost = cost_of("cheapbatch", {"special-1": {"input_tokens": 1_000_000, "output_tokens": 1_000_000}}, TABLE)
    assert (cost.sync_usd, cost.batch_usd) == (Decimal("2.0"), Decimal("0.3"))


def test_unknown_models_and_providers_are_reported_not_priced():
    cost = cost_of("openai", {"mystery": {"input_tokens": 10, "output_tokens": 1}}, TABLE)
    assert cost.batch_usd == 0 and cost.unpriced_models == ["mystery"]
    assert cost_of("nobody", {"m": {"input_tokens": 10}}, TABLE).unpriced_models == ["m"]


def test_the_shipped_table_has_a_section_for_every_registered_provider():
    table = price_table()
    for spec in registry.specs():
        assert table.for_provider(spec.name) is not None, spec.name
    assert table.for_provider("openai").price_for("gpt-4o-mini-2024-07-18") is not None
    assert table.for_provider("anthropic").price_for("claude-sonnet-4-5-20250929") is not None


def test_a_prices_file_in_the_first_versions_format_applies_to_every_provider(tmp_path, monkeypatch):
    from batchrelay.settings import get_settings

    path = tmp_path / "prices.json"
    path.write_text('{"batch_discount": 0.25, "models": {"m": {"input": 4, "output": 0}}}')
    monkeypatch.setenv("PRICES_FILE", str(path))
    get_settings.cache_clear()
    try:
        for provider in ("openai", "anthropic"):
            cost = cost_of(provider, {"m-1": {"input_tokens": 1_000_000, "output_tokens": 0}})
            assert (cost.batch_usd, cost.sync_usd) == (Decimal(1), Decimal(4))
    finally:
        monkeypatch.delenv("PRICES_FILE")
        get_settings.cache_clear()
