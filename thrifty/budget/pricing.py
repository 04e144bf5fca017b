"""Prices for the BATS unified cost: tokens at list prices plus a fixed price per tool unit.

C_unified = c_token + sum_i c_i * p_i (BATS, arXiv 2511.17006 §3). Token cost distinguishes input,
cache-hit input and output tokens; p_search = p_browse = $0.001 per unit as in the paper.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_TOOL_PRICE_USD = 0.001
"""BATS's per-invocation price for search and browse units."""


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


# Public list prices (USD per 1M tokens; input, cached input, output) for a few common API models.
# Local models cost nothing per token by default; pass your own table for GPU-second accounting.
_KNOWN: dict[str, ModelPrice] = {
    "gpt-4o": ModelPrice(2.50, 1.25, 10.00),
    "gpt-4o-mini": ModelPrice(0.15, 0.075, 0.60),
    "gpt-4.1": ModelPrice(2.00, 0.50, 8.00),
    "gpt-4.1-mini": ModelPrice(0.40, 0.10, 1.60),
    "gemini-2.5-pro": ModelPrice(1.25, 0.31, 10.00),
    "gemini-2.5-flash": ModelPrice(0.30, 0.075, 2.50),
    "claude-sonnet-4": ModelPrice(3.00, 0.30, 15.00),
}


def _frozen_prices(d: Mapping[str, float] | None = None) -> Mapping[str, float]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Model prices by name and tool prices by tool name (unknown tools use ``default_tool_price``)."""

    models: Mapping[str, ModelPrice] = field(default_factory=lambda: MappingProxyType(dict(_KNOWN)))
    tools: Mapping[str, float] = field(default_factory=_frozen_prices)
    default_model_price: ModelPrice = ModelPrice()
    default_tool_price: float = DEFAULT_TOOL_PRICE_USD

    def model(self, name: str) -> ModelPrice:
        if name in self.models:
            return self.models[name]
        # Served names often carry a provider prefix or a date suffix ("openai/gpt-4o-2024-08-06").
        base = name.rsplit("/", 1)[-1]
        for known in sorted(self.models, key=len, reverse=True):
            if base.startswith(known):
                return self.models[known]
        return self.default_model_price

    def tool(self, name: str) -> float:
        return self.tools.get(name, self.default_tool_price)
