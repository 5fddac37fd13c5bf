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


def test_a_model_may_carry_its_own_batch_discount():
    # Groq has published its batch discount as 25% and as 50%: each model row says which holds
    table = parse_price_table({"providers": {"groq": {"batch_discount": 0.5, "models": {
        "old": {"input": 1.0, "output": 2.0, "batch_discount": 0.75},
        "new": {"input": 1.0, "output": 2.0},
    }}}})
    million = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
    assert cost_of("groq", {"old": million}, table).batch_usd == Decimal("2.25")
    assert cost_of("groq", {"new": million}, table).batch_usd == Decimal("1.5")
    assert table.for_provider("groq").discounts == [Decimal("0.5"), Decimal("0.75")]


def test_the_shipped_groq_and_azure_sections_are_dated_and_price_each_model_at_its_discount():
    table = price_table()
    groq = table.for_provider("groq")
    assert all(row.discount == Decimal("0.5") for row in groq.models.values())
    assert groq.price_for("llama-3.1-8b-instant") is not None
    assert table.for_provider("azure_openai").price_for("gpt-4o-mini-2024-07-18").discount == Decimal("0.5")
    import json
    from pathlib import Path

    import batchrelay.results.pricing as pricing

    sections = json.loads(Path(pricing.__file__).with_name("prices.json").read_text())["providers"]
    for name in ("groq", "azure_openai"):
        assert sections[name]["as_of"] and "check" in sections[name]["source"]
    assert all("batch_discount" in row for row in sections["groq"]["models"].values())


def test_a_configured_server_brings_its_prices_and_the_prices_file_wins():
    from tests.support.openai_shaped import compatible_servers

    with compatible_servers():
        acme = price_table().for_provider("acme_batch")
        assert acme is not None and acme.batch_discount == Decimal("0.4")
        cost = cost_of("acme_batch", {"acme-large": {"input_tokens": 1_000_000, "output_tokens": 0}})
        assert (cost.batch_usd, cost.sync_usd) == (Decimal("0.8"), Decimal("2.0"))
        assert price_table().for_provider("vllm_lab").price_for("llama-3.1-8b-instruct") is not None
    assert price_table().for_provider("acme_batch") is None
