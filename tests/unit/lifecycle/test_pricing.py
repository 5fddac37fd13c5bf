from decimal import Decimal

from batchrelay.results.pricing import cost_of, parse_price_table, price_table

TABLE = parse_price_table(
    {"batch_discount": 0.5, "models": {"gpt-4o": {"input": 2.5, "output": 10}, "gpt-4o-mini": {"input": 0.15,
                                                                                                 "output": 0.6}}}
)


def test_longest_prefix_wins_for_dated_model_names():
    assert TABLE.price_for("gpt-4o-mini-2024-07-18").input_per_million == Decimal("0.15")
    assert TABLE.price_for("gpt-4o-2024-08-06").input_per_million == Decimal("2.5")
    assert TABLE.price_for("claude-x") is None


def test_batch_cost_is_the_discounted_sync_cost():
    cost = cost_of({"gpt-4o-mini-2024-07-18": {"input_tokens": 1_000_000, "output_tokens": 2_000_000}}, TABLE)

    assert cost.sync_usd == Decimal("1.35")
    assert cost.batch_usd == Decimal("0.675")
    assert cost.as_strings() == ("0.675000", "1.350000")


def test_unknown_models_are_reported_not_priced():
    cost = cost_of({"mystery": {"input_tokens": 10, "output_tokens": 1}}, TABLE)

    assert cost.batch_usd == 0
    assert cost.unpriced_models == ["mystery"]


def test_the_shipped_table_prices_the_simulator_models():
    table = price_table()
    assert table.price_for("gpt-4o-mini-2024-07-18") is not None
    assert table.price_for("claude-sonnet-4-5-20250929") is not None


def test_prices_file_override(tmp_path, monkeypatch):
    from batchrelay.settings import get_settings

    path = tmp_path / "prices.json"
    path.write_text('{"batch_discount": 0.25, "models": {"m": {"input": 4, "output": 0}}}')
    monkeypatch.setenv("PRICES_FILE", str(path))
    get_settings.cache_clear()
    try:
        cost = cost_of({"m-1": {"input_tokens": 1_000_000, "output_tokens": 0}})
        assert (cost.batch_usd, cost.sync_usd) == (Decimal(1), Decimal(4))
    finally:
        monkeypatch.delenv("PRICES_FILE")
        get_settings.cache_clear()
