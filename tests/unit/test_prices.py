"""Prices: the maintained genai-prices catalogue, the user's overrides, free local models, and a usd
limit refused (naming the model) when no price is known."""

import socket
from pathlib import Path

import pytest

from thrifty.agents.agent import Agent
from thrifty.backends import ScriptedBackend
from thrifty.budget import Ledger, Limits, ModelPrice, PriceTable, UnknownPrice
from thrifty.budget.pricing import catalogue_price
from thrifty.errors import ConfigError
from thrifty.settings import load_settings


def test_the_catalogue_prices_known_models_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the price catalogue must not touch the network")

    monkeypatch.setattr(socket, "socket", no_network)
    catalogue_price.cache_clear()
    assert PriceTable().known("gpt-4o") == ModelPrice(2.5, 1.25, 10.0)
    assert PriceTable().known("openai/gpt-4o-mini") == ModelPrice(0.15, 0.075, 0.6)
    claude = PriceTable().known("claude-sonnet-4")
    assert claude is not None and claude.output_per_mtok == 15.0
    assert PriceTable().known("my-own-finetune-7b") is None


def test_the_users_price_wins_and_covers_dated_names() -> None:
    table = PriceTable(models={"gpt-4o": ModelPrice(1.0, None, 2.0), "my-ft": ModelPrice(0.5, None, 1.5)})
    assert table.known("gpt-4o-2024-08-06") == ModelPrice(1.0, None, 2.0)
    assert table.require("my-ft").output_per_mtok == 1.5
    with pytest.raises(UnknownPrice, match="'other-model'"):
        table.require("other-model")


async def test_a_usd_limit_on_a_model_without_a_price_is_an_error_naming_the_model() -> None:
    backend = ScriptedBackend(["<answer>x</answer>"], model="my-own-finetune-7b")
    with pytest.raises(ConfigError, match="no known price for model 'my-own-finetune-7b'") as caught:
        await Agent(backend, limits=Limits(usd=0.01)).run("q")
    assert caught.value.field == "usd" and backend.requests == []  # refused before any call
    with pytest.raises(UnknownPrice):  # the ledger refuses too, for callers that bypass the agent
        Ledger(Limits(usd=0.01)).reserve_model_call("my-own-finetune-7b", 10)
    # Without a usd limit the model simply costs nothing per token; with a price the limit holds.
    result = await Agent(ScriptedBackend(["<answer>x</answer>"], model="my-own-finetune-7b")).run("q")
    assert result.stop_reason == "answered" and result.cost_usd == 0.0
    priced = PriceTable(models={"my-own-finetune-7b": ModelPrice(1_000.0, None, 1_000.0)})
    backend = ScriptedBackend(["<answer>x</answer>"], model="my-own-finetune-7b")
    result = await Agent(backend, limits=Limits(usd=1.0), prices=priced).run("q")
    assert result.stop_reason == "answered" and 0 < result.cost_usd <= 1.0


async def test_local_embedded_models_are_free() -> None:
    backend = ScriptedBackend(["<answer>x</answer>"], model="qwen2.5-coder-1.5b-instruct")
    result = await Agent(backend, limits=Limits(usd=0.01)).run("q")
    assert result.stop_reason == "answered" and result.cost_usd == 0.0


def test_prices_in_the_settings_file_override_the_catalogue(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[prices."gpt-4o"]\ninput = 1.0\noutput = 3.0\n[prices.my-ft]\ninput = 0.2\noutput = 0.4\n')
    table = load_settings(config, env={}).price_table()
    assert table.known("gpt-4o") == ModelPrice(1.0, None, 3.0)
    assert table.known("my-ft") == ModelPrice(0.2, None, 0.4)
    config.write_text('[prices."gpt-4o"]\ninput = -1\noutput = 3.0\n')
    with pytest.raises(ConfigError, match="prices"):
        load_settings(config, env={})
