"""Prices for the BATS unified cost: tokens at list prices plus a fixed price per tool unit.

C_unified = c_token + sum_i c_i * p_i (BATS, arXiv 2511.17006 §3). Token cost distinguishes input,
cache-hit input and output tokens; p_search = p_browse = $0.001 per unit as in the paper.

Model prices come from, in order: the user's own (``PriceTable(models=...)``, or ``[prices]`` in the
settings file), models known to be free (local ones: the scripted test backend and thrifty's
embedded models, added by the agent), and the maintained catalogue of the ``genai-prices`` package
(pydantic's, as pydantic-ai uses; its data ships in the wheel, so lookups never touch the network).
A model found in none of them has no known price: that is fine without a ``usd`` limit (it costs $0
per token in reports) and an error naming the model with one (:class:`UnknownPrice`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_TOOL_PRICE_USD = 0.001
"""BATS's per-invocation price for search and browse units."""
FREE_MODELS = frozenset({"scripted"})
"""The scripted test backend's model: nothing is billed."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """US dollars per million tokens."""

    input_per_mtok: float = 0.0
    cached_input_per_mtok: float | None = None
    """Defaults to ``input_per_mtok`` when the provider has no cache discount."""
    output_per_mtok: float = 0.0

    def cost(self, input_tokens: int, cached_tokens: int, output_tokens: int) -> float:
        cached_rate = self.input_per_mtok if self.cached_input_per_mtok is None else self.cached_input_per_mtok
        fresh = max(0, input_tokens - cached_tokens)
        return (fresh * self.input_per_mtok + cached_tokens * cached_rate + output_tokens * self.output_per_mtok) / 1e6


FREE = ModelPrice()


class UnknownPrice(LookupError):
    """A ``usd`` limit applies to a model whose price is not known: the limit could not be kept."""

    def __init__(self, model: str) -> None:
        super().__init__(
            f"no known price for model {model!r}, so a usd limit cannot be kept; give its price "
            f'(settings file: [prices."{model}"] input = 0.5, output = 1.5, dollars per million tokens; '
            "library: PriceTable(models={...})) or drop the usd limit"
        )
        self.model = model


@functools.cache
def catalogue_price(name: str) -> ModelPrice | None:
    """The model's list price from ``genai-prices`` (None when it has no match or is not installed)."""
    try:
        from genai_prices import Usage, calc_price
    except ImportError:
        return None
    provider, _, base = name.rpartition("/")
    attempts = [(name, None), (base, provider or None), (base, None)]
    for ref, provider_id in dict.fromkeys(attempts):
        try:
            per_input = calc_price(Usage(input_tokens=1_000_000), model_ref=ref, provider_id=provider_id)
            per_output = calc_price(Usage(output_tokens=1_000_000), model_ref=ref, provider_id=provider_id)
            cached = calc_price(
                Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000), model_ref=ref, provider_id=provider_id
            )
        except (LookupError, ValueError):
            continue
        return ModelPrice(float(per_input.total_price), float(cached.total_price), float(per_output.total_price))
    return None


def _frozen_prices(d: Mapping[str, float] | None = None) -> Mapping[str, float]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Model prices by name (the user's, then free models, then the catalogue) and tool prices by
    tool name (unknown tools use ``default_tool_price``)."""

    models: Mapping[str, ModelPrice] = field(default_factory=lambda: MappingProxyType({}))
    """The user's prices: exact served names, or a prefix ("gpt-4o" covers "gpt-4o-2024-08-06")."""
    tools: Mapping[str, float] = field(default_factory=_frozen_prices)
    default_tool_price: float = DEFAULT_TOOL_PRICE_USD
    free: frozenset[str] = FREE_MODELS
    """Models that cost nothing per token (local ones)."""
    catalogue: bool = True
    """Look up models the user did not price in ``genai-prices``."""

    def known(self, name: str) -> ModelPrice | None:
        """The model's price, or None when no source knows it."""
        if name in self.models:
            return self.models[name]
        # Served names often carry a provider prefix or a date suffix ("openai/gpt-4o-2024-08-06").
        base = name.rsplit("/", 1)[-1]
        for known in sorted(self.models, key=len, reverse=True):
            if base.startswith(known):
                return self.models[known]
        if name in self.free:
            return FREE
        return catalogue_price(name) if self.catalogue else None

    def model(self, name: str) -> ModelPrice:
        """The price to charge: unknown models cost nothing per token (a ``usd`` limit on one is
        refused by :meth:`require` before any call)."""
        return self.known(name) or FREE

    def require(self, name: str) -> ModelPrice:
        price = self.known(name)
        if price is None:
            raise UnknownPrice(name)
        return price

    def with_free(self, *names: str) -> PriceTable:
        """This table with ``names`` known to be free (unless the user priced them)."""
        return PriceTable(self.models, self.tools, self.default_tool_price, self.free | set(names), self.catalogue)

    def tool(self, name: str) -> float:
        return self.tools.get(name, self.default_tool_price)
