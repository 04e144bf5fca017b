"""User settings from a TOML file and ``THRIFTY_*`` environment variables, validated by pydantic.

Precedence: command-line flags > environment > config file > defaults. The file is
``--config PATH``, else ``$THRIFTY_CONFIG``, else ``~/.config/thrifty/config.toml`` when it exists::

    base_url = "http://gpu-box:8000/v1"
    model = "Qwen/Qwen3-8B"
    strategy = "bats"
    budget = "search=5,browse=5,tokens=40000"
    tool_protocol = "native"

    [strategy_options.bats]         # a strategy's own options (thrifty.strategy_options)
    max_attempts = 3

    [prices."my-finetune"]          # dollars per million tokens, over the genai-prices catalogue
    input = 0.5
    output = 1.5

Any mistake is a :class:`~thrifty.errors.ConfigError` naming the field and where it came from
(``config.toml: budget: ...`` or ``THRIFTY_BUDGET: ...``), never a traceback.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from thrifty.budget import ModelPrice, PriceTable, parse_budget_spec
from thrifty.budget.limits import BudgetSpecError
from thrifty.defaults import DEFAULT_BUDGET
from thrifty.errors import ConfigError
from thrifty.strategy_names import parse_strategy
from thrifty.strategy_options import strategy_options


class PriceSetting(BaseModel):
    """One model's price in dollars per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0.0, allow_inf_nan=False)
    output: float = Field(ge=0.0, allow_inf_nan=False)
    cached_input: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = None
    """An OpenAI-compatible endpoint; unset: the embedded model."""
    model: str | None = None
    api_key: str | None = None
    strategy: str = "tracker"
    strategy_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Options by strategy name, used whenever that strategy runs (a ``[strategy_options.bats]``
    table, or ``THRIFTY_STRATEGY_OPTIONS='{"bats": {"max_attempts": 3}}'``)."""
    budget: str = DEFAULT_BUDGET
    tool_protocol: Literal["native", "text", "json"] | None = None
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    server_idle: float = Field(default=300.0, ge=0.0, allow_inf_nan=False)
    """Seconds the shared embedded model server stays up unused before it stops itself."""
    trace: bool = True
    """Write a JSONL trace of every ``ask`` run."""
    mcp_prices: dict[str, float] = Field(default_factory=dict)
    """USD per call of ``--mcp`` tools by tool name, ``"*"`` for every other one (a TOML table, or
    ``THRIFTY_MCP_PRICES="read_file=0.001,*=0.0005"``)."""

    @field_validator("mcp_prices", mode="before")
    @classmethod
    def _prices(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs = [p.partition("=") for p in value.split(",") if p.strip()]
        if any(not sep for _, sep, _ in pairs):
            raise ValueError(f"expected NAME=USD pairs separated by commas, got {value!r}")
        return {k.strip().lower(): v.strip() for k, _, v in pairs}

    @field_validator("mcp_prices")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not v >= 0 or v == float("inf")]
        if bad:
            raise ValueError(f"prices must be finite numbers >= 0: {', '.join(bad)}")
        return value

    prices: dict[str, PriceSetting] = Field(default_factory=dict)
    """Model prices that override (or add to) the ``genai-prices`` catalogue."""

    def price_table(self) -> PriceTable:
        return PriceTable(
            models={name: ModelPrice(p.input, p.cached_input, p.output) for name, p in self.prices.items()}
        )

    @field_validator("budget")
    @classmethod
    def _budget(cls, value: str) -> str:
        try:
            parse_budget_spec(value)
        except BudgetSpecError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        try:
            parse_strategy(value)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("strategy: ")) from None
        return value

    @field_validator("strategy_options", mode="before")
    @classmethod
    def _options_json(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"expected a JSON object of tables by strategy name: {exc}") from None

    @field_validator("strategy_options")
    @classmethod
    def _options(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, given in value.items():
            try:
                strategy_options(name, given)
            except ConfigError as exc:
                raise ValueError(str(exc).removeprefix("strategy: ").removeprefix("strategy_options.")) from None
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value


ENV = {name: f"THRIFTY_{name.upper()}" for name in Settings.model_fields}


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if path := env.get("THRIFTY_CONFIG"):
        return Path(path)
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "thrifty" / "config.toml"


def _validated(values: dict[str, object], source: dict[str, str]) -> Settings:
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "config"
        origin = source.get(field) or source.get(field.split(".")[0], "config")
        raise ConfigError(field, f"{error['msg']} (from {origin})") from None


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, overlaid by the config file (if any), overlaid by ``THRIFTY_*`` variables."""
    env = os.environ if env is None else env
    explicit = path is not None or "THRIFTY_CONFIG" in env
    path = path or default_config_path(env)
    values: dict[str, object] = {}
    source: dict[str, str] = {}
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
        source = {key: str(path) for key in values}
    elif explicit:
        raise ConfigError("config", f"no such file: {path}")
    for field, var in ENV.items():
        if var in env:
            values[field] = env[var]
            source[field] = f"${var}"
    return _validated(values, source)
